// The InstanceGroup contract's values as wire messages, shared by the plugin server and the host:
// ConnectorConfig, ProviderInfo and ConnectInfo to and from plain message objects, how errors
// cross gRPC (ErrInstanceUnhealthy as FAILED_PRECONDITION, a partial Increase/Decrease as an
// `error` string beside what succeeded; autoscaling.md §1.2.6's design), and matching field names
// loosely, so a schema learned through reflection (snake_case names) takes the same objects.
import type protobuf from "protobufjs";
import type { ConnectInfo, ConnectorConfig, ProviderInfo } from "./instance-group.ts";

/** gRPC status codes used on the wire. */
export const STATUS = { UNKNOWN: 2, FAILED_PRECONDITION: 9, UNIMPLEMENTED: 12, UNAVAILABLE: 14 } as const;

export interface WireConnectorConfig {
  os: string;
  arch: string;
  protocol: string;
  protocolPort: number;
  username: string;
  password: string;
  key: Uint8Array;
  useStaticCredentials: boolean;
  keepaliveMs: number;
  timeoutMs: number;
}

export function connectorToWire(c: ConnectorConfig): WireConnectorConfig {
  return {
    os: c.os ?? "",
    arch: c.arch ?? "",
    protocol: c.protocol ?? "",
    protocolPort: c.protocolPort ?? 0,
    username: c.username ?? "",
    password: c.password ?? "",
    key: Buffer.from(c.key ?? "", "utf8"),
    useStaticCredentials: c.useStaticCredentials ?? false,
    keepaliveMs: c.keepaliveMs ?? 0,
    timeoutMs: c.timeoutMs ?? 0,
  };
}

/** Proto3 has no presence: empty means unset. */
export function connectorFromWire(w: Partial<WireConnectorConfig> | undefined): ConnectorConfig {
  const c: ConnectorConfig = {};
  if (!w) return c;
  if (w.os) c.os = w.os;
  if (w.arch) c.arch = w.arch;
  if (w.protocol) c.protocol = w.protocol as ConnectorConfig["protocol"];
  if (w.protocolPort) c.protocolPort = Number(w.protocolPort);
  if (w.username) c.username = w.username;
  if (w.password) c.password = w.password;
  if (w.key?.length) c.key = Buffer.from(w.key).toString("utf8");
  if (w.useStaticCredentials) c.useStaticCredentials = true;
  if (w.keepaliveMs) c.keepaliveMs = Number(w.keepaliveMs);
  if (w.timeoutMs) c.timeoutMs = Number(w.timeoutMs);
  return c;
}

export function providerInfoFromWire(w: Record<string, unknown> | undefined): ProviderInfo {
  const max = Number(w?.maxSize ?? 0);
  return {
    id: String(w?.id ?? ""),
    maxSize: max > 0 ? max : Number.MAX_SAFE_INTEGER,
    version: String(w?.version ?? ""),
    buildInfo: String(w?.buildInfo ?? ""),
    capabilities: ((w?.capabilities as string[] | undefined) ?? []).map(String),
  };
}

export function connectInfoToWire(i: ConnectInfo) {
  const { id, externalAddr, internalAddr, expiresAt, ...connector } = i;
  return {
    connectorConfig: connectorToWire(connector),
    id,
    externalAddr: externalAddr ?? "",
    internalAddr: internalAddr ?? "",
    expiresUnixMs: expiresAt ?? 0,
  };
}

export function connectInfoFromWire(w: Record<string, unknown>): ConnectInfo {
  const info: ConnectInfo = {
    ...connectorFromWire(w.connectorConfig as Partial<WireConnectorConfig>),
    id: String(w.id ?? ""),
  };
  if (w.externalAddr) info.externalAddr = String(w.externalAddr);
  if (w.internalAddr) info.internalAddr = String(w.internalAddr);
  if (w.expiresUnixMs) info.expiresAt = Number(w.expiresUnixMs);
  return info;
}

const loose = (name: string) => name.replace(/_/g, "").toLowerCase();

/**
 * `value` (camelCase keys) reshaped to `type`'s own field names, recursively, dropping keys the
 * type does not have: a reflected schema names fields as its .proto does (snake_case).
 */
export function shapeFor(type: protobuf.Type, value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const byLoose = new Map(type.fieldsArray.map((f) => [loose(f.name), f]));
  for (const [k, v] of Object.entries(value)) {
    const f = byLoose.get(loose(k));
    if (!f) continue;
    f.resolve();
    const sub = f.resolvedType;
    if (sub && "fieldsArray" in sub && v && typeof v === "object" && !(v instanceof Uint8Array)) {
      out[f.name] = Array.isArray(v)
        ? v.map((x) => shapeFor(sub as protobuf.Type, x as Record<string, unknown>))
        : shapeFor(sub as protobuf.Type, v as Record<string, unknown>);
    } else out[f.name] = v;
  }
  return out;
}

/** Keys of a decoded message in camelCase, recursively (the inverse of shapeFor's renaming). */
export function camelKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelKeys);
  if (!value || typeof value !== "object" || value instanceof Uint8Array) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase()),
      camelKeys(v),
    ]),
  );
}
