// `listen_address` (config.toml's global key, or `--listen-address`) as GitLab Runner reads it
// (commands/multi.go listenAddress): `[host]:port`, and a host without a port gets the metrics
// port 9252 (common.DefaultMetricsServerPort). An empty host listens on every interface, as Go's
// net.Listen does. Pure: the HTTP server only binds what this returns.

/** GitLab Runner's default port for /metrics and /debug (common/consts.go). */
export const DEFAULT_METRICS_PORT = 9252;

export interface ListenAddress {
  /** What Bun.serve binds: an IPv4/IPv6 literal or a host name; "0.0.0.0" for an empty host. */
  hostname: string;
  port: number;
  /** `host:port` as GitLab Runner logs it (IPv6 in brackets). */
  display: string;
}

export class ListenAddressError extends Error {
  constructor(address: string, why: string) {
    super(
      `listen_address ${JSON.stringify(address)}: ${why}; expected "[host]:port" such as "127.0.0.1:9252", ":9252" or "[::1]:9252" (a host alone gets port ${DEFAULT_METRICS_PORT})`,
    );
    this.name = "ListenAddressError";
  }
}

/** `undefined` when the address is unset or blank: metrics and debug endpoints stay off. */
export function parseListenAddress(address: string | undefined): ListenAddress | undefined {
  const raw = address?.trim();
  if (!raw) return undefined;
  let host: string;
  let port: string | undefined;
  if (raw.startsWith("[")) {
    const close = raw.indexOf("]");
    if (close < 0) throw new ListenAddressError(raw, "missing ']' in address");
    host = raw.slice(1, close);
    const rest = raw.slice(close + 1);
    if (rest === "") port = undefined;
    else if (rest.startsWith(":")) port = rest.slice(1);
    else throw new ListenAddressError(raw, "unexpected text after ']'");
  } else {
    const colons = raw.split(":").length - 1;
    // Go's SplitHostPort: an IPv6 literal needs brackets when a port follows (or not).
    if (colons > 1)
      throw new ListenAddressError(raw, "too many colons in address (put an IPv6 host in brackets)");
    [host, port] = colons === 1 ? (raw.split(":") as [string, string]) : [raw, undefined];
  }
  let n = DEFAULT_METRICS_PORT;
  if (port !== undefined) {
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535)
      throw new ListenAddressError(raw, `port ${JSON.stringify(port)} is not a number from 0 to 65535`);
    n = Number(port);
  }
  const hostname = host === "" ? "0.0.0.0" : host;
  return { hostname, port: n, display: `${hostname.includes(":") ? `[${hostname}]` : hostname}:${n}` };
}
