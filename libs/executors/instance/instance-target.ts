// Where an acquired instance is dialled and as whom: fleeting's connector (connector.Dial) turned
// into the SSH connector's target. The plugin's ConnectInfo says the address, user and key; the
// runner entry's [runners.autoscaler] connector_config fills what the plugin left out, and with
// use_static_credentials its username / password / key_path win. use_external_addr picks the
// external address (GitLab Runner's autoscaler dials with UseExternalAddr). Host keys are not
// checked: an instance is new and its key unknown, as fleeting's connector does.
import type { z } from "zod";
import type { connectorConfigSchema } from "../../config/autoscaler-section.ts";
import { durationMs } from "../../config/schema-primitives.ts";
import type { instanceConnectInfoSchema } from "../../messages/subjects.ts";
import type { SshTarget } from "../../ssh/connector.ts";

export type ConnectorSettings = z.output<typeof connectorConfigSchema>;
export type InstanceConnectInfo = z.output<typeof instanceConnectInfoSchema>;

/** The SSH target of an instance, and the private key (PEM) when one is to be used. */
export interface InstanceTarget {
  target: Omit<SshTarget, "identityFile">;
  /** Private key bytes; written to a 0600 file the connector reads once at dial. */
  key?: string;
  /** The key file connector_config names (use_static_credentials), read by the connector. */
  keyPath?: string;
}

/** Throws with the instance, the runner and what was expected when the instance cannot be dialled. */
export function instanceTarget(
  info: InstanceConnectInfo,
  connector: ConnectorSettings | undefined,
  runnerName: string,
): InstanceTarget {
  const where = `runner "${runnerName}": instance ${info.id}`;
  const cc = connector;
  const protocol = info.protocol ?? cc?.protocol ?? "ssh";
  if (protocol !== "ssh")
    throw new Error(
      `${where}: protocol ${JSON.stringify(protocol)}: the instance executor connects over "ssh" only ([runners.autoscaler.connector_config] protocol)`,
    );
  const preferred = cc?.use_external_addr ? info.externalAddr : info.internalAddr;
  const addr = preferred || info.externalAddr || info.internalAddr;
  if (!addr)
    throw new Error(
      `${where}: the plugin gave no address (neither internal nor external) to dial; expected host or host:port`,
    );
  const { host, port: addrPort } = splitHostPort(addr);
  const port = info.protocolPort || cc?.protocol_port || addrPort || 22;
  const staticCreds = cc?.use_static_credentials ?? info.useStaticCredentials ?? false;
  const pick = (fromInfo: string | undefined, fromConfig: string | undefined) =>
    staticCreds ? fromConfig || fromInfo : fromInfo || fromConfig;
  const user = pick(info.username, cc?.username) || "root";
  const keyPath = staticCreds || !info.key ? cc?.key_path : undefined;
  const key = keyPath ? undefined : info.key;
  const password = pick(info.password, cc?.password);
  const keepalive = cc?.keepalive ? durationMs(cc.keepalive) : info.keepaliveMs;
  const timeout = cc?.timeout ? durationMs(cc.timeout) : info.timeoutMs;
  return {
    target: {
      host,
      port,
      user,
      password,
      strictHostKeyChecking: false,
      keepaliveIntervalMs: keepalive || undefined,
      connectTimeoutMs: timeout || undefined,
    },
    key,
    keyPath,
  };
}

/** `host`, `host:port` or `[v6]:port`. */
export function splitHostPort(addr: string): { host: string; port?: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(addr);
  if (v6) return { host: v6[1]!, port: v6[2] ? Number(v6[2]) : undefined };
  const i = addr.lastIndexOf(":");
  if (i < 0 || addr.indexOf(":") !== i) return { host: addr };
  const port = Number(addr.slice(i + 1));
  return Number.isInteger(port) && port > 0 ? { host: addr.slice(0, i), port } : { host: addr };
}
