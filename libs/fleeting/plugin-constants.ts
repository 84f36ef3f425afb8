// The constants of fleeting's go-plugin wire that no reachable source gives (fleeting-protocol.md
// §0 and §7): the magic cookie, the app protocol versions and the InstanceGroup service's name.
// They live here and only here, each overridable (env or the host's options), so a real Go plugin
// works once someone reads them off a plugin binary (§4) without touching code. Everything else of
// the transport is go-plugin's and verified (§2): those names are constants too, but fixed.

/** What a host offers and a plugin checks. */
export interface FleetingWire {
  /** go-plugin HandshakeConfig.MagicCookieKey: the env var the host sets for the plugin. */
  cookieKey: string;
  cookieValue: string;
  /** App protocol versions (PLUGIN_PROTOCOL_VERSIONS), highest preferred. */
  protocolVersions: number[];
  /**
   * Full name of the InstanceGroup service. The host finds the plugin's real service through
   * reflection (a service that has Init, Update, Increase, Decrease, ConnectInfo); this name only
   * breaks a tie and names the built-in schema a plugin without reflection is assumed to speak.
   */
  service: string;
}

/** runmesh's own values [U for upstream fleeting: these are ours, not fleeting's]. */
export const RUNMESH_WIRE: Readonly<FleetingWire> = Object.freeze({
  cookieKey: "RUNMESH_FLEETING_PLUGIN",
  cookieValue: "3c0f5e0a-instancegroup-7d1b",
  protocolVersions: [1],
  service: "runmesh.fleeting.v1.InstanceGroup",
});

/** Environment variables that override RUNMESH_WIRE, for hosts and for our own plugins alike. */
export const WIRE_ENV = {
  cookieKey: "RUNMESH_FLEETING_COOKIE_KEY",
  cookieValue: "RUNMESH_FLEETING_COOKIE_VALUE",
  protocolVersions: "RUNMESH_FLEETING_PROTOCOL_VERSIONS",
  service: "RUNMESH_FLEETING_SERVICE",
} as const;

/** RUNMESH_WIRE with what `env` and then `overrides` set. */
export function fleetingWire(
  env: Record<string, string | undefined> = process.env,
  overrides: Partial<FleetingWire> = {},
): FleetingWire {
  const versions = env[WIRE_ENV.protocolVersions];
  const fromEnv: Partial<FleetingWire> = {
    ...(env[WIRE_ENV.cookieKey] ? { cookieKey: env[WIRE_ENV.cookieKey] } : {}),
    ...(env[WIRE_ENV.cookieValue] ? { cookieValue: env[WIRE_ENV.cookieValue] } : {}),
    ...(versions ? { protocolVersions: parseVersions(versions, WIRE_ENV.protocolVersions) } : {}),
    ...(env[WIRE_ENV.service] ? { service: env[WIRE_ENV.service] } : {}),
  };
  return { ...RUNMESH_WIRE, protocolVersions: [...RUNMESH_WIRE.protocolVersions], ...fromEnv, ...overrides };
}

/** `1,2,5` as go-plugin writes PLUGIN_PROTOCOL_VERSIONS. */
export function parseVersions(text: string, what: string): number[] {
  const out = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1)
        throw new Error(`${what}: expected comma-separated versions like "1,2", got "${text}"`);
      return n;
    });
  if (!out.length) throw new Error(`${what}: expected at least one version, got "${text}"`);
  return out;
}

// go-plugin's own names [V GP], fixed.

/** Core protocol version: the handshake line's first field. */
export const CORE_PROTOCOL_VERSION = 1;
/** The health service's name go-plugin marks SERVING. */
export const HEALTH_SERVICE_NAME = "plugin";
export const GO_PLUGIN_ENV = {
  protocolVersions: "PLUGIN_PROTOCOL_VERSIONS",
  minPort: "PLUGIN_MIN_PORT",
  maxPort: "PLUGIN_MAX_PORT",
  unixSocketDir: "PLUGIN_UNIX_SOCKET_DIR",
  clientCert: "PLUGIN_CLIENT_CERT",
  multiplex: "PLUGIN_MULTIPLEX_GRPC",
} as const;
/** What a go-plugin server prints when started without the cookie (server.go). */
export const NOT_A_COMMAND_MESSAGE =
  "This binary is a plugin. These are not meant to be executed directly.\n" +
  "Please execute the program that consumes these plugins, which will\n" +
  "load any plugins automatically\n";
/** Marks the plugin processes a host started, so a later host can sweep orphans (orphan-sweep.ts). */
export const HOST_MARKER_ENV = "RUNMESH_FLEETING_HOST";
