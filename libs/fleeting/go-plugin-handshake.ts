// hashicorp/go-plugin's handshake, both sides, as pure functions [V GP client.go, server.go]:
// the environment a host starts a plugin with, the plugin's version negotiation, the line it
// prints on stdout (`CORE|APP|NETWORK|ADDR|PROTOCOL|CERT`), and the host's checks of that line
// with go-plugin's own error texts. The plugin host and server only do the I/O around these.
import { CORE_PROTOCOL_VERSION, type FleetingWire, GO_PLUGIN_ENV } from "./plugin-constants.ts";

export interface Handshake {
  core: number;
  appVersion: number;
  network: "unix" | "tcp";
  address: string;
  protocol: "grpc";
  /** Base64 (raw std) DER of the server's certificate: only with AutoMTLS, which runmesh does not ask for. */
  serverCert?: string;
  multiplex?: boolean;
}

/** Environment added to the host's for the plugin process (client.go Start). */
export function pluginEnv(
  wire: FleetingWire,
  o: { socketDir?: string; minPort?: number; maxPort?: number } = {},
) {
  return {
    [wire.cookieKey]: wire.cookieValue,
    [GO_PLUGIN_ENV.minPort]: String(o.minPort ?? 0),
    [GO_PLUGIN_ENV.maxPort]: String(o.maxPort ?? 0),
    [GO_PLUGIN_ENV.protocolVersions]: wire.protocolVersions.join(","),
    ...(o.socketDir ? { [GO_PLUGIN_ENV.unixSocketDir]: o.socketDir } : {}),
  };
}

/**
 * The plugin's pick (server.go protocolVersion): the highest version both support; when none is
 * common, the plugin's lowest, and the host refuses it.
 */
export function negotiateVersion(hostOffers: readonly number[], pluginSupports: readonly number[]): number {
  const own = [...pluginSupports].sort((a, b) => b - a);
  const offered = new Set(hostOffers);
  return own.find((v) => offered.has(v)) ?? own[own.length - 1]!;
}

export function handshakeLine(h: Pick<Handshake, "appVersion" | "network" | "address">): string {
  return `${CORE_PROTOCOL_VERSION}|${h.appVersion}|${h.network}|${h.address}|grpc|`;
}

/** The host's checks (client.go Start), in go-plugin's order and words. */
export function parseHandshakeLine(raw: string, offered: readonly number[]): Handshake {
  const line = raw.trim();
  const parts = line.split("|");
  if (parts.length < 4)
    throw new Error(
      `Unrecognized remote plugin message: ${line}\nThis usually means the plugin was not compiled for this architecture, the plugin is missing dynamic-link libraries necessary to run, the plugin is not executable by this process due to file permissions, or the plugin failed to negotiate the initial go-plugin protocol handshake`,
    );
  const core = Number(parts[0]);
  if (core !== CORE_PROTOCOL_VERSION)
    throw new Error(
      `Incompatible core API version with plugin. Plugin version: ${parts[0]}, Core version: ${CORE_PROTOCOL_VERSION}`,
    );
  const appVersion = Number(parts[1]);
  if (!Number.isInteger(appVersion) || !offered.includes(appVersion))
    throw new Error(
      `Incompatible API version with plugin. Plugin version: ${parts[1]}, Client versions: [${offered.join(" ")}]`,
    );
  const network = parts[2];
  if (network !== "unix" && network !== "tcp") throw new Error(`Unknown address type: ${network}`);
  const address = parts[3]!;
  const protocol = parts[4] || "netrpc";
  if (protocol !== "grpc") throw new Error(`Unsupported plugin protocol "${protocol}". Supported: [grpc]`);
  const h: Handshake = { core, appVersion, network, address, protocol };
  // Fields shorter than 50 characters are not a certificate (client.go).
  if ((parts[5] ?? "").length > 50) h.serverCert = parts[5];
  if (parts.length > 6) h.multiplex = parts[6] === "true";
  return h;
}
