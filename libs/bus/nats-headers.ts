// Bus headers ⇄ NATS headers. Headers NATS itself sets (Nats-Msg-Id, Nats-Expected-*, …) are
// transport detail and are not handed to services.
import { type MsgHdrs, headers as natsHeaders } from "@nats-io/transport-node";
import type { Headers } from "./bus.ts";

export function toNatsHeaders(h: Headers | undefined): MsgHdrs | undefined {
  if (!h) return undefined;
  const entries = Object.entries(h);
  if (entries.length === 0) return undefined;
  const out = natsHeaders();
  for (const [key, value] of entries) out.set(key, value);
  return out;
}

export function fromNatsHeaders(h: MsgHdrs | undefined): Headers {
  const out: Headers = {};
  if (!h) return out;
  for (const key of h.keys()) {
    if (key.toLowerCase().startsWith("nats-")) continue;
    out[key] = h.get(key);
  }
  return out;
}
