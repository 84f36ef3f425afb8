// The plugin side of go-plugin over gRPC, for instance groups written in TypeScript (our built-in
// `docker` and `static` plugins): what go-plugin's `Serve` does [V GP server.go, grpc_server.go].
// Refuse to run without the magic cookie; negotiate the app version; listen on a unix socket in
// PLUGIN_UNIX_SOCKET_DIR or $TMPDIR; print the handshake line; serve health ("plugin" SERVING),
// reflection, GRPCController/Shutdown, GRPCStdio (what the plugin writes to stdout/stderr after
// the handshake), and the InstanceGroup service; log hclog JSON on the original stderr; ignore
// SIGINT as go-plugin does (the host owns the plugin's life).
import { randomBytes } from "node:crypto";
import { writeSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { format } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { handshakeLine, negotiateVersion } from "./go-plugin-handshake.ts";
import { hclogWriter, type PluginLog } from "./hclog.ts";
import { type InstanceGroup, InstanceUnhealthyError, type ProviderState } from "./instance-group.ts";
import {
  connectInfoToWire,
  connectorFromWire,
  STATUS,
  type WireConnectorConfig,
} from "./instance-group-wire.ts";
import {
  type FleetingWire,
  fleetingWire,
  GO_PLUGIN_ENV,
  HEALTH_SERVICE_NAME,
  NOT_A_COMMAND_MESSAGE,
  parseVersions,
} from "./plugin-constants.ts";
import { type ProtoFile, schemas, serviceDefinition } from "./plugin-protos.ts";
import { reflectionHandlers } from "./reflection.ts";

export interface PluginVersionInfo {
  name: string;
  version: string;
  revision?: string;
}

export interface ServeOptions {
  version: PluginVersionInfo;
  /** App versions this plugin speaks (default: the wire's). */
  protocolVersions?: number[];
  env?: Record<string, string | undefined>;
  argv?: string[];
  wire?: Partial<FleetingWire>;
  /** The InstanceGroup service's schema (default: runmesh's built-in; tests serve others). */
  schema?: ProtoFile;
  /** Serve gRPC reflection (default true, as go-plugin >= 1.2 does). */
  reflection?: boolean;
}

/** fleeting's VersionInfo.String() shape for `-version`. */
export function versionText(v: PluginVersionInfo): string {
  return `Name:       ${v.name}\nVersion:    ${v.version}\nGit revision: ${v.revision ?? "unknown"}\n`;
}

/**
 * Runs `makeGroup`'s group as a plugin until the host shuts it down. Exits the process on
 * `-version`, on a missing cookie (status 1, go-plugin's message) and after Shutdown.
 */
export async function servePlugin(
  makeGroup: (log: PluginLog) => InstanceGroup,
  o: ServeOptions,
): Promise<void> {
  const env = o.env ?? process.env;
  const argv = o.argv ?? process.argv.slice(2);
  const stderrFd = (text: string) => writeSync(2, text);
  if (argv.includes("-version") || argv.includes("--version")) {
    process.stdout.write(versionText(o.version));
    process.exit(0);
  }
  const wire = fleetingWire(env, o.wire);
  if (env[wire.cookieKey] !== wire.cookieValue) {
    stderrFd(NOT_A_COMMAND_MESSAGE);
    process.exit(1);
  }
  const log = hclogWriter(o.version.name, stderrFd);
  const own = o.protocolVersions ?? wire.protocolVersions;
  const offered = env[GO_PLUGIN_ENV.protocolVersions]
    ? parseVersions(env[GO_PLUGIN_ENV.protocolVersions]!, GO_PLUGIN_ENV.protocolVersions)
    : own;
  const appVersion = negotiateVersion(offered, own);

  const group = makeGroup(log);
  const server = new grpc.Server();
  const s = schemas();
  const stdio = stdioCapture();
  let exiting = false;
  const socket = join(
    env[GO_PLUGIN_ENV.unixSocketDir] || env.TMPDIR || tmpdir(),
    `plugin${randomBytes(5).readUInt32BE(0)}`,
  );
  const exit = () => {
    if (exiting) return;
    exiting = true;
    server.forceShutdown();
    void rm(socket, { force: true }).finally(() => process.exit(0));
  };

  server.addService(serviceDefinition(s.health.root.lookupService("grpc.health.v1.Health")), {
    Check: (call: grpc.ServerUnaryCall<{ service: string }, object>, cb: grpc.sendUnaryData<object>) =>
      call.request.service === "" || call.request.service === HEALTH_SERVICE_NAME
        ? cb(null, { status: 1 })
        : cb(null, { status: 3 }),
  });
  const schema = o.schema ?? s.instanceGroup;
  if (o.reflection !== false) {
    const reflection = reflectionHandlers([
      schema,
      s.goPlugin,
      s.health,
      s.reflectionV1alpha,
      s.reflectionV1,
    ]);
    for (const r of [s.reflectionV1alpha, s.reflectionV1]) {
      const name = r === s.reflectionV1 ? "grpc.reflection.v1" : "grpc.reflection.v1alpha";
      server.addService(serviceDefinition(r.root.lookupService(`${name}.ServerReflection`)), reflection);
    }
  }
  server.addService(serviceDefinition(s.goPlugin.root.lookupService("plugin.GRPCController")), {
    Shutdown: (_call: unknown, cb: grpc.sendUnaryData<object>) => {
      cb(null, {});
      // As go-plugin: stop inside the handler; the host treats a lost reply as success.
      setTimeout(exit, 10);
    },
  });
  server.addService(serviceDefinition(s.goPlugin.root.lookupService("plugin.GRPCStdio")), {
    StreamStdio: (call: grpc.ServerWritableStream<object, object>) => stdio.attach(call),
  });
  server.addService(
    serviceDefinition(schema.root.lookupService(wire.service)),
    instanceGroupHandlers(group, log),
  );

  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  process.on("SIGINT", () => log.debug("plugin received interrupt signal, ignoring"));
  process.on("SIGTERM", exit);
  process.stdout.write(`${handshakeLine({ appVersion, network: "unix", address: socket })}\n`);
  // After the handshake, what the plugin prints goes through GRPCStdio, as go-plugin swaps os.Stdout/os.Stderr.
  stdio.swap();
  log.debug("plugin address", { network: "unix", address: socket });
}

/** process.stdout/stderr writes, buffered until the host streams them. */
function stdioCapture() {
  let stream: grpc.ServerWritableStream<object, object> | undefined;
  const buffered: { channel: number; data: Buffer }[] = [];
  const send = (channel: number, chunk: unknown) => {
    const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    if (stream) stream.write({ channel, data });
    else if (buffered.length < 1000) buffered.push({ channel, data });
    return true;
  };
  return {
    swap() {
      process.stdout.write = ((chunk: unknown) => send(1, chunk)) as typeof process.stdout.write;
      process.stderr.write = ((chunk: unknown) => send(2, chunk)) as typeof process.stderr.write;
      // Bun's console writes to the file descriptors directly, past process.stdout.
      const line =
        (channel: number) =>
        (...args: unknown[]) =>
          send(channel, `${format(...args)}\n`);
      Object.assign(console, { log: line(1), info: line(1), debug: line(1), warn: line(2), error: line(2) });
    },
    attach(call: grpc.ServerWritableStream<object, object>) {
      stream = call;
      for (const b of buffered.splice(0)) call.write(b);
      call.on("cancelled", () => {
        if (stream === call) stream = undefined;
      });
    },
  };
}

type Unary = (
  call: grpc.ServerUnaryCall<Record<string, unknown>, object>,
  cb: grpc.sendUnaryData<object>,
) => void;

function instanceGroupHandlers(group: InstanceGroup, log: PluginLog): Record<string, Unary> {
  const handle =
    (name: string, run: (req: Record<string, unknown>) => Promise<object>): Unary =>
    (call, cb) => {
      run(call.request).then(
        (res) => cb(null, res),
        (err: Error) => {
          const unhealthy = err instanceof InstanceUnhealthyError;
          if (!unhealthy) log.error(`${name} failed`, { err: err.message });
          // The reason alone: the host builds its own InstanceUnhealthyError around it.
          const details = unhealthy ? err.reason : err.message;
          cb({ code: unhealthy ? STATUS.FAILED_PRECONDITION : STATUS.UNKNOWN, details }, null);
        },
      );
    };
  return {
    Init: handle("Init", async (req) => {
      const raw = Buffer.from((req.config as Uint8Array) ?? []).toString("utf8");
      const config = raw ? JSON.parse(raw) : {};
      const settings = req.settings as { connectorConfig?: Partial<WireConnectorConfig> } | undefined;
      const info = await group.init(config, {
        connectorConfig: connectorFromWire(settings?.connectorConfig),
      });
      return {
        info: { ...info, maxSize: info.maxSize >= Number.MAX_SAFE_INTEGER ? 0 : info.maxSize },
      };
    }),
    Update: handle("Update", async () => {
      const instances: { id: string; state: ProviderState }[] = [];
      await group.update((id, state) => instances.push({ id, state }));
      return { instances };
    }),
    Increase: handle("Increase", async (req) => {
      const r = await group.increase(Number(req.delta));
      return { succeeded: r.succeeded, error: r.error?.message ?? "" };
    }),
    Decrease: handle("Decrease", async (req) => {
      const r = await group.decrease((req.instances as string[]) ?? []);
      return { succeeded: r.succeeded, error: r.error?.message ?? "" };
    }),
    ConnectInfo: handle("ConnectInfo", async (req) =>
      connectInfoToWire(await group.connectInfo(String(req.id))),
    ),
    Heartbeat: handle("Heartbeat", async (req) => {
      await group.heartbeat(String(req.id));
      return {};
    }),
    Shutdown: handle("Shutdown", async () => {
      await group.shutdown();
      return {};
    }),
  };
}
