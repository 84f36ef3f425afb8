// Picks the bus transport from [mesh] settings (or --nats): NATS when a URL is given,
// otherwise the in-process bus of `runmesh run`. Given a logger, it waits for a NATS that is not
// up yet (nats-wait.ts), so tiers may start in any order.
import type { Bus } from "./bus.ts";
import { createInprocBus } from "./inproc-bus.ts";
import { connectNatsBus } from "./nats-bus.ts";
import { connectWhenReachable, type WaitForNatsOptions } from "./nats-wait.ts";

export interface BusSettings {
  nats_url?: string;
  nats_user?: string;
  nats_password?: string;
  nats_token?: string;
  nats_creds_file?: string;
  nats_tls_ca_file?: string;
  nats_tls_cert_file?: string;
  nats_tls_key_file?: string;
  nats_inbox_prefix?: string;
}

/** Replies come back under `_INBOX_<user>` for a named user, so another identity cannot read them. */
export function inboxPrefixFor(mesh: BusSettings): string | undefined {
  if (mesh.nats_inbox_prefix) return mesh.nats_inbox_prefix;
  return mesh.nats_user ? `_INBOX_${mesh.nats_user.replace(/[^A-Za-z0-9_-]/g, "_")}` : undefined;
}

export async function connectBus(
  mesh: BusSettings,
  name: string,
  waitLogger?: WaitForNatsOptions["logger"],
): Promise<Bus> {
  if (!mesh.nats_url) return createInprocBus();
  const url = mesh.nats_url;
  const open = () =>
    connectNatsBus({
      servers: url.split(",").map((s) => s.trim()),
      user: mesh.nats_user,
      pass: mesh.nats_password,
      token: mesh.nats_token,
      credsFile: mesh.nats_creds_file,
      tls:
        mesh.nats_tls_ca_file || mesh.nats_tls_cert_file
          ? {
              caFile: mesh.nats_tls_ca_file,
              certFile: mesh.nats_tls_cert_file,
              keyFile: mesh.nats_tls_key_file,
            }
          : undefined,
      name,
      inboxPrefix: inboxPrefixFor(mesh),
    });
  return waitLogger ? connectWhenReachable(open, { url, logger: waitLogger }) : open();
}
