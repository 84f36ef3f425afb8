// The host side of a fleeting plugin: what go-plugin's client does for GitLab Runner's
// `fleeting.RunPlugin` [V GP client.go, grpc_client.go; fleeting-protocol.md §2]. Start the
// binary with no arguments in its own process group with the cookie and PLUGIN_* env, read the
// handshake line, dial the unix socket, check health, stream the plugin's stdio and re-log its
// hclog stderr, learn its InstanceGroup service through reflection (the built-in schema only when
// it serves none), and map the InstanceGroup contract onto that service's RPCs. Stop: the
// controller's Shutdown, up to 2 s for the process to exit, then SIGKILL to the whole group.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type protobuf from "protobufjs";
import type { Logger } from "../log/logger.ts";
import { type Handshake, parseHandshakeLine, pluginEnv } from "./go-plugin-handshake.ts";
import { parseHclogLine } from "./hclog.ts";
import {
  type ConnectInfo,
  type ConnectorConfig,
  type InstanceGroup,
  InstanceUnhealthyError,
  type Partial as PartialResult,
  type ProviderInfo,
  type ProviderState,
} from "./instance-group.ts";
import {
  camelKeys,
  connectInfoFromWire,
  connectorToWire,
  providerInfoFromWire,
  STATUS,
  shapeFor,
} from "./instance-group-wire.ts";
import { hostMarker } from "./orphan-sweep.ts";
import { type FleetingWire, fleetingWire, HEALTH_SERVICE_NAME, HOST_MARKER_ENV } from "./plugin-constants.ts";
import { decodeMessage, encodeMessage, schemas } from "./plugin-protos.ts";
import { reflect } from "./reflection.ts";

export interface LaunchOptions {
  /** The plugin binary, then arguments (go-plugin passes none; tests may run `bun main.ts`). */
  command: string[];
  /** How logs and errors name the plugin (default: the binary's file name). */
  name?: string;
  logger: Logger;
  wire?: globalThis.Partial<FleetingWire>;
  /** go-plugin's StartTimeout (default 1 minute). */
  startTimeoutMs?: number;
  /** Deadline of each InstanceGroup call (default 1 minute, as taskscaler's Init context). */
  callTimeoutMs?: number;
  env?: Record<string, string | undefined>;
}

export interface PluginSchema {
  source: "reflection" | "built-in";
  service: string;
  methods: string[];
  files: string[];
}

export interface PluginProcess {
  group: InstanceGroup;
  pid: number;
  handshake: Handshake;
  schema: PluginSchema;
  /** grpc.health.v1 Check of "plugin": true when SERVING. */
  health(): Promise<boolean>;
  /** Resolves with the exit code (or signal name) when the process is gone. */
  exited: Promise<number | string>;
  kill(): Promise<void>;
}

/** Methods a service must have to be taken for fleeting's InstanceGroup. */
const REQUIRED = ["Init", "Update", "Increase", "Decrease", "ConnectInfo"];

export async function launchPlugin(o: LaunchOptions): Promise<PluginProcess> {
  const wire = fleetingWire(o.env ?? process.env, o.wire);
  const name = o.name ?? basename(o.command[0]!);
  const log = o.logger.child({ plugin: name });
  const socketDir = await mkdtemp(join(tmpdir(), "runmesh-fleeting-"));
  const child = spawn(o.command[0]!, o.command.slice(1), {
    env: {
      ...(o.env ?? process.env),
      ...pluginEnv(wire, { socketDir }),
      [HOST_MARKER_ENV]: hostMarker(process.pid),
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const pid = child.pid;
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  const spawnError = new Promise<never>((_r, reject) => child.once("error", reject));
  const stderrTail = relayStderr(child, log);
  const cleanup = async () => {
    if (pid !== undefined && child.exitCode === null && child.signalCode === null) killGroup(pid, "SIGKILL");
    await rm(socketDir, { recursive: true, force: true });
  };
  let client: grpc.Client | undefined;
  try {
    if (pid === undefined) await spawnError;
    const line = await Promise.race([
      firstLine(child),
      spawnError,
      exited.then((code) => {
        throw new Error(`exited (${code}) before the handshake: ${stderrTail().trim() || "no output"}`);
      }),
      timeout(o.startTimeoutMs ?? 60_000, "timeout while waiting for plugin to start"),
    ]);
    const handshake = parseHandshakeLine(line, wire.protocolVersions);
    const target = handshake.network === "unix" ? `unix://${handshake.address}` : handshake.address;
    client = new grpc.Client(target, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": 2 ** 31 - 1,
      "grpc.max_send_message_length": 2 ** 31 - 1,
    });
    const health = () => checkHealth(client!);
    if (!(await health())) throw new Error(`health service does not report "${HEALTH_SERVICE_NAME}" SERVING`);
    streamStdio(client, log);
    const schema = await learnSchema(client, wire, log);
    log.debug(
      {
        pid,
        appVersion: handshake.appVersion,
        service: schema.service.fullName.replace(/^\./, ""),
        source: schema.source,
      },
      "plugin started",
    );
    const group = new GrpcInstanceGroup(
      client,
      schema.service,
      `fleeting plugin "${name}" (pid ${pid})`,
      o.callTimeoutMs ?? 60_000,
      exited,
    );
    let killed: Promise<void> | undefined;
    return {
      group,
      pid: pid!,
      handshake,
      schema: {
        source: schema.source,
        service: schema.service.fullName.replace(/^\./, ""),
        methods: schema.service.methodsArray.map((m) => m.name),
        files: schema.files,
      },
      health,
      exited,
      kill: () => {
        killed ??= stop(client!, child, exited, log).finally(cleanup);
        return killed;
      },
    };
  } catch (err) {
    client?.close();
    await cleanup();
    throw new Error(`fleeting plugin "${name}" (${o.command.join(" ")}): ${(err as Error).message}`);
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {}
}

/** GRPCController.Shutdown (its reply is usually lost), 2 s grace, then SIGKILL to the group. */
async function stop(
  client: grpc.Client,
  child: ChildProcess,
  exited: Promise<unknown>,
  log: Logger,
): Promise<void> {
  const done = child.exitCode !== null || child.signalCode !== null;
  if (!done) {
    const Empty = schemas().goPlugin.root.lookupType("plugin.Empty");
    await new Promise<void>((resolve) =>
      client.makeUnaryRequest(
        "/plugin.GRPCController/Shutdown",
        (v: object) => encodeMessage(Empty, v),
        (b: Buffer) => decodeMessage(Empty, b),
        {},
        new grpc.Metadata(),
        { deadline: Date.now() + 2000 },
        () => resolve(),
      ),
    );
    const gone = await Promise.race([exited.then(() => true), sleep(2000).then(() => false)]);
    if (!gone) {
      log.warn({ pid: child.pid }, "plugin failed to exit gracefully");
      killGroup(child.pid!, "SIGKILL");
      await exited;
    }
  }
  client.close();
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    let buf = "";
    const onData = (chunk: Buffer) => {
      buf += chunk.toString("utf8");
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      child.stdout!.off("data", onData);
      resolve(buf.slice(0, nl));
      // go-plugin logs what a plugin prints on stdout after the line (it should print nothing).
      child.stdout!.on("data", () => {});
    };
    child.stdout!.on("data", onData);
  });
}

/** The plugin's stderr, one hclog event per line, under our logger; returns the recent tail. */
function relayStderr(child: ChildProcess, log: Logger): () => string {
  let tail = "";
  let partial = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    tail = (tail + chunk).slice(-2000);
    const lines = (partial + chunk).split("\n");
    partial = lines.pop()!;
    for (const l of lines) if (l.trim()) emit(log, l);
  });
  child.stderr!.on("end", () => {
    if (partial.trim()) emit(log, partial);
  });
  return () => tail;
}

function emit(log: Logger, line: string): void {
  const e = parseHclogLine(line);
  log[e.level]({ ...e.fields, ...(e.module ? { module: e.module } : {}) }, e.message);
}

function streamStdio(client: grpc.Client, log: Logger): void {
  const s = schemas().goPlugin.root;
  const Empty = s.lookupType("plugin.Empty");
  const Data = s.lookupType("plugin.StdioData");
  const call = client.makeServerStreamRequest(
    "/plugin.GRPCStdio/StreamStdio",
    (v: object) => encodeMessage(Empty, v),
    (b: Buffer) => decodeMessage<{ channel: number; data: Buffer }>(Data, b),
    {},
  );
  call.on("data", (d: { channel: number; data: Buffer }) => {
    for (const line of d.data.toString("utf8").split("\n"))
      if (line.trim()) log.debug({ channel: d.channel === 2 ? "stderr" : "stdout" }, line);
  });
  call.on("error", () => {});
}

function checkHealth(client: grpc.Client): Promise<boolean> {
  const h = schemas().health.root;
  const Req = h.lookupType("grpc.health.v1.HealthCheckRequest");
  const Res = h.lookupType("grpc.health.v1.HealthCheckResponse");
  return new Promise((resolve) =>
    client.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      (v: object) => encodeMessage(Req, v),
      (b: Buffer) => decodeMessage<{ status: number }>(Res, b),
      { service: HEALTH_SERVICE_NAME },
      new grpc.Metadata(),
      { deadline: Date.now() + 5000 },
      (err, res) => resolve(!err && res?.status === 1),
    ),
  );
}

/** The plugin's InstanceGroup service: reflected when it serves reflection, else the built-in. */
async function learnSchema(
  client: grpc.Client,
  wire: FleetingWire,
  log: Logger,
): Promise<{ service: protobuf.Service; source: PluginSchema["source"]; files: string[] }> {
  const candidate = (s: string) => !s.startsWith("grpc.") && !s.startsWith("plugin.");
  try {
    const r = await reflect(client, candidate);
    const services = r.services
      .filter(candidate)
      .map((n) => r.root.lookupService(n))
      .filter((s) => REQUIRED.every((m) => s.methods[m]));
    const service = services.find((s) => s.fullName.replace(/^\./, "") === wire.service) ?? services[0];
    if (!service)
      throw new Error(
        `no service with ${REQUIRED.join(", ")} among the plugin's services [${r.services.join(", ")}]`,
      );
    return { service, source: "reflection", files: r.files };
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (code !== STATUS.UNIMPLEMENTED) throw err;
    log.warn({ service: wire.service }, "plugin serves no reflection: assuming runmesh's built-in schema");
    return {
      service: schemas().instanceGroup.root.lookupService(wire.service),
      source: "built-in",
      files: [],
    };
  }
}

const STATES = new Set<ProviderState>(["creating", "running", "deleting", "deleted", "timeout"]);

/** InstanceGroup over a plugin's gRPC service, whatever its message names and field numbers. */
class GrpcInstanceGroup implements InstanceGroup {
  private dead: string | undefined;

  constructor(
    private readonly client: grpc.Client,
    private readonly service: protobuf.Service,
    private readonly who: string,
    private readonly timeoutMs: number,
    exited: Promise<number | string>,
  ) {
    void exited.then((code) => {
      this.dead = `exited (${code})`;
    });
  }

  private call<T = Record<string, unknown>>(method: string, request: Record<string, unknown>): Promise<T> {
    const m = this.service.methods[method];
    if (!m)
      return Promise.reject(
        Object.assign(new Error(`${this.who}: ${method}: not served`), { code: STATUS.UNIMPLEMENTED }),
      );
    if (this.dead) return Promise.reject(new Error(`${this.who}: ${method}: the plugin ${this.dead}`));
    m.resolve();
    const Req = m.resolvedRequestType!;
    const Res = m.resolvedResponseType!;
    const path = `/${this.service.fullName.replace(/^\./, "")}/${m.name}`;
    const ser = (v: Record<string, unknown>) => encodeMessage(Req, shapeFor(Req, v));
    const de = (b: Buffer) => camelKeys(decodeMessage(Res, b)) as Record<string, unknown>;
    const deadline = { deadline: Date.now() + this.timeoutMs };
    const fail = (err: grpc.ServiceError) =>
      Object.assign(new Error(`${this.who}: ${method}: ${err.details || err.message}`), {
        code: err.code,
        details: err.details,
      });
    if (m.responseStream) {
      // A streamed answer (e.g. Update as a stream of instances) is gathered into one list.
      return new Promise((resolve, reject) => {
        const items: Record<string, unknown>[] = [];
        const s = this.client.makeServerStreamRequest(path, ser, de, request, new grpc.Metadata(), deadline);
        s.on("data", (d: Record<string, unknown>) => items.push(d));
        s.on("error", (e: grpc.ServiceError) => reject(fail(e)));
        s.on("end", () => resolve({ stream: items } as T));
      });
    }
    return new Promise((resolve, reject) =>
      this.client.makeUnaryRequest(path, ser, de, request, new grpc.Metadata(), deadline, (err, res) =>
        err ? reject(fail(err)) : resolve(res as T),
      ),
    );
  }

  async init(pluginConfig: unknown, settings: { connectorConfig: ConnectorConfig }): Promise<ProviderInfo> {
    const r = await this.call("Init", {
      config: Buffer.from(JSON.stringify(pluginConfig ?? {}), "utf8"),
      settings: { connectorConfig: connectorToWire(settings.connectorConfig) },
    });
    return providerInfoFromWire((r.info ?? r.providerInfo) as Record<string, unknown> | undefined);
  }

  async update(report: (id: string, state: ProviderState) => void): Promise<void> {
    const r = await this.call<{
      instances?: { id: string; state: string }[];
      stream?: Record<string, unknown>[];
    }>("Update", {});
    const list =
      r.instances ?? (r.stream ?? []).flatMap((x) => (x.instances as { id: string; state: string }[]) ?? [x]);
    for (const i of list) {
      const state = String(i.state).toLowerCase() as ProviderState;
      if (STATES.has(state)) report(String(i.id), state);
    }
  }

  async increase(delta: number): Promise<PartialResult<number>> {
    const r = await this.call<{ succeeded?: number; error?: string }>("Increase", { delta });
    return {
      succeeded: Number(r.succeeded ?? 0),
      ...(r.error ? { error: new Error(`${this.who}: Increase: ${r.error}`) } : {}),
    };
  }

  async decrease(ids: readonly string[]): Promise<PartialResult<string[]>> {
    const r = await this.call<{ succeeded?: string[]; error?: string }>("Decrease", { instances: [...ids] });
    return {
      succeeded: r.succeeded ?? [],
      ...(r.error ? { error: new Error(`${this.who}: Decrease: ${r.error}`) } : {}),
    };
  }

  async connectInfo(id: string): Promise<ConnectInfo> {
    return connectInfoFromWire(await this.call("ConnectInfo", { id }));
  }

  async heartbeat(id: string): Promise<void> {
    try {
      await this.call("Heartbeat", { id });
    } catch (err) {
      const code = (err as { code?: number }).code;
      // Plugins older than fleeting MR !54 have no Heartbeat: healthy as far as they know.
      if (code === STATUS.UNIMPLEMENTED) return;
      if (code === STATUS.FAILED_PRECONDITION)
        throw new InstanceUnhealthyError(id, `${this.who}: ${(err as { details?: string }).details ?? ""}`);
      throw err;
    }
  }

  async shutdown(): Promise<void> {
    await this.call("Shutdown", {});
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function timeout(ms: number, message: string): Promise<never> {
  return new Promise((_r, reject) => setTimeout(() => reject(new Error(message)), ms).unref());
}
