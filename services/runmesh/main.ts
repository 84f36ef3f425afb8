// The runmesh command: every tier in one process (`runmesh run`, a drop-in for
// `gitlab-runner run`), or one tier per process over NATS (`runmesh poller|scheduler|worker`).
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import type { Bus } from "../../libs/bus/bus.ts";
import { type Config, ConfigError, loadConfig, type MeshConfig } from "../../libs/config/index.ts";
import { loadOrCreateSystemId } from "../../libs/config/system-id.ts";
import { pinoLevel } from "../../libs/log/log-level.ts";
import { createLogger, type Logger } from "../../libs/log/logger.ts";
import { connectBus } from "../../libs/mesh/bus-connect.ts";
import { watchConfig } from "../../libs/mesh/config-reload.ts";
import { RUNMESH_REVISION, RUNMESH_VERSION } from "../../libs/mesh/version.ts";
import { startWorkerService, workerDataDir, workerExecutors } from "../executor-worker/main.ts";
import { loadMeshSettings } from "../executor-worker/mesh-settings.ts";
import type { ExecutorWorker } from "../executor-worker/worker.ts";
import { resolveWorkerId, type WorkerIdentity } from "../executor-worker/worker-id.ts";
import { pollTargets, startPollerService } from "../poller/main.ts";
import type { Poller } from "../poller/poller.ts";
import { runnerCapacities, startSchedulerService } from "../scheduler/main.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";

const USAGE = `runmesh ${RUNMESH_VERSION}: a GitLab-compatible CI runner as a mesh of services

Usage:
  runmesh run       --config config.toml [--user USER] [--nats URL]   every tier in this process
  runmesh poller    --config config.toml --nats URL                  asks GitLab for jobs (holds runner tokens)
  runmesh scheduler --config config.toml --nats URL                  slots, leases, dispatch, lost workers
  runmesh worker    [--config mesh.toml] --nats URL [--id ID] [--slots N] [--builds-dir DIR] [--user USER]
  runmesh version

Without --nats (and without [mesh] nats_url) \`run\` uses the in-process bus.
Options: --log-level panic|fatal|error|warning|info|debug|trace, --log-format json|text.
Signals: SIGQUIT stops asking for jobs and lets running jobs finish; SIGTERM/SIGINT abort running
jobs (runner_interrupted) and exit within shutdown_timeout; a second signal exits at once.`;

type Mode = "run" | "poller" | "scheduler" | "worker";

interface Args {
  config?: string;
  nats?: string;
  user?: string;
  id?: string;
  slots?: string;
  "builds-dir"?: string;
  "log-level"?: string;
  "log-format"?: string;
  help?: boolean;
}

/** Subject-safe id: NATS subjects take no dots or spaces inside one token. */
function safeId(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, "-");
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "help" || command === "--help" || command === "-h") {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (command === "version" || command === "--version") {
    console.log(`runmesh ${RUNMESH_VERSION} (${RUNMESH_REVISION})`);
    return 0;
  }
  if (!["run", "poller", "scheduler", "worker"].includes(command)) {
    console.error(`runmesh: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  const mode = command as Mode;
  let args: Args;
  try {
    args = parseArgs({
      args: rest,
      options: {
        config: { type: "string", short: "c" },
        nats: { type: "string" },
        user: { type: "string", short: "u" },
        id: { type: "string" },
        slots: { type: "string" },
        "builds-dir": { type: "string" },
        "log-level": { type: "string" },
        "log-format": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }).values as Args;
  } catch (e) {
    console.error(`runmesh ${mode}: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  try {
    return await start(mode, args);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`runmesh ${mode}: configuration error:\n${e.message}`);
      return 1;
    }
    console.error(`runmesh ${mode}: ${(e as Error).message}`);
    return 1;
  }
}

async function start(mode: Mode, args: Args): Promise<number> {
  const nats = args.nats ?? process.env.RUNMESH_NATS_URL;
  let config: Config | undefined;
  let mesh: MeshConfig;
  let warnings: string[] = [];
  if (mode === "worker") {
    // Workers read [mesh] only: runner entries and their tokens stay with the poller.
    ({ mesh, warnings } = await loadMeshSettings(args.config, {
      nats_url: nats,
      name: args.id,
      worker_slots: args.slots ? Number(args.slots) : undefined,
      builds_dir: args["builds-dir"],
    }));
  } else {
    if (!args.config) throw new Error(`--config is required for "${mode}" (a GitLab Runner config.toml)`);
    ({ config, warnings } = await loadConfig(args.config));
    mesh = nats ? { ...config.mesh, nats_url: nats } : config.mesh;
    if (mode === "poller" || mode === "scheduler") {
      if (!mesh.nats_url)
        throw new Error(
          `"${mode}" runs alone only over NATS: pass --nats nats://host:4222 or set [mesh] nats_url`,
        );
    }
  }
  const logger = createLogger({
    service: mode === "run" ? "runmesh" : mode,
    level: args["log-level"] ?? config?.log_level ?? process.env.RUNMESH_LOG_LEVEL ?? "info",
    format: args["log-format"] ?? config?.log_format,
  });
  for (const w of warnings) logger.warn(w);
  if (config && mode !== "worker") {
    const lp = config.runners.filter((r) => r.request_concurrency < 2).length;
    if (lp && config.concurrent < config.runners.length * 2)
      logger.debug(
        "long polling: each runner entry keeps one jobs/request in flight per request_concurrency",
      );
  }

  const name = safeId(mesh.name ?? hostname());
  // A worker refuses executors it does not have before it touches the bus ([mesh] worker_executors),
  // and knows its id, the same across restarts: --id, [mesh] name when set (the default is the
  // hostname, shared by every worker on the host), else one persisted in the worker's data dir.
  let identity: WorkerIdentity | undefined;
  if (mode === "run" || mode === "worker") {
    workerExecutors(mesh);
    identity = await resolveWorkerId({
      id: args.id,
      meshName: mesh.name !== hostname() ? mesh.name : undefined,
      dataDir: workerDataDir(mesh),
    });
    logger.info({ worker: identity.id, from: identity.source }, "worker id");
  }
  const bus = await connectBus(mesh, `runmesh-${mode}-${name}`);
  logger.info({ transport: bus.transport, mode }, "bus connected");
  let scheduler: Scheduler | undefined;
  let worker: ExecutorWorker | undefined;
  let poller: Poller | undefined;
  if (mode === "run" || mode === "scheduler")
    scheduler = await startSchedulerService({ config: config!, bus, logger });
  if (identity) {
    worker = await startWorkerService({
      mesh,
      bus,
      logger,
      workerId: identity.id,
      user: args.user ?? config?.user,
    });
  }
  if (mode === "run" || mode === "poller") {
    const systemId = await loadOrCreateSystemId(args.config!);
    poller = await startPollerService({
      config: config!,
      bus,
      logger,
      systemId,
      pollerId: `${name}-${process.pid}`,
    });
  }
  if (config && args.config) {
    // Only what GitLab Runner reloads: runner entries, concurrent, check_interval, log level,
    // and health (wiped). Workers need nothing: each job brings its runner's settings.
    const path = args.config;
    await watchConfig(
      path,
      async (next) => {
        if (!args["log-level"] && next.log_level) logger.level = pinoLevel(next.log_level);
        scheduler?.reconfigure(next.concurrent, runnerCapacities(next));
        await poller?.reload(pollTargets(next, logger), next.check_interval_ms);
      },
      logger,
    );
  } else
    process.on("SIGHUP", () =>
      logger.info("SIGHUP: nothing to reload (a worker's jobs bring their settings)"),
    );
  logger.info({ mode, version: RUNMESH_VERSION }, "runmesh ready");
  const code = await waitForSignals({
    logger,
    bus,
    poller,
    scheduler,
    worker,
    shutdownTimeoutMs: config?.shutdown_timeout_ms ?? 30_000,
  });
  await identity?.release();
  return code;
}

function waitForSignals(o: {
  logger: Logger;
  bus: Bus;
  poller?: Poller;
  scheduler?: Scheduler;
  worker?: ExecutorWorker;
  shutdownTimeoutMs: number;
}): Promise<number> {
  return new Promise((resolve) => {
    let signals = 0;
    const finish = async (code: number) => {
      await o.scheduler?.stop().catch(() => {});
      await o.worker?.stop().catch(() => {});
      await o.bus.close().catch(() => {});
      resolve(code);
    };
    const graceful = async () => {
      o.logger.info("SIGQUIT: no new jobs; waiting for running jobs to finish");
      await o.poller?.stopRequesting();
      await o.worker?.drain();
      o.logger.info("all jobs finished; exiting");
      await finish(0);
    };
    const forceful = async (sig: string) => {
      o.logger.warn(
        { signal: sig, timeoutMs: o.shutdownTimeoutMs },
        "aborting running jobs (runner_interrupted)",
      );
      const deadline = setTimeout(() => {
        o.logger.error("shutdown_timeout reached; exiting with jobs still running");
        resolve(1);
      }, o.shutdownTimeoutMs);
      await o.poller?.stopRequesting();
      const clean = (await o.worker?.abortAll(o.shutdownTimeoutMs)) ?? true;
      clearTimeout(deadline);
      await finish(clean ? 0 : 1);
    };
    const on = (sig: NodeJS.Signals, handler: () => Promise<void>) =>
      process.on(sig, () => {
        if (signals++ > 0) {
          o.logger.warn({ signal: sig }, "second signal: exiting at once");
          process.exit(1);
        }
        void handler();
      });
    on("SIGQUIT", graceful);
    on("SIGTERM", () => forceful("SIGTERM"));
    on("SIGINT", () => forceful("SIGINT"));
  });
}

if (import.meta.main) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
