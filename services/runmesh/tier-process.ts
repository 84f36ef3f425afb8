// One runmesh process running one tier (`runmesh-poller`, `runmesh poller`…) or all of them
// (`runmesh run`): settings, logger, bus, metrics, config reload and the signals GitLab Runner
// answers (SIGQUIT drains, SIGTERM/SIGINT abort). The tiers come in as a `TierSet`, so a per-tier
// entry hands over its own tier only and its compiled binary links nothing of the others.
import { hostname } from "node:os";
import { RUNMESH_REVISION, RUNMESH_VERSION } from "../../libs/build-info/version.ts";
import type { Bus } from "../../libs/bus/bus.ts";
import { type BusSettings, connectBus } from "../../libs/bus/connect.ts";
import type { watchConfig, watchConfigFile } from "../../libs/config/config-reload.ts";
import type { Config, MeshConfig } from "../../libs/config/index.ts";
import { pinoLevel } from "../../libs/log/log-level.ts";
import { createLogger, type Logger } from "../../libs/log/logger.ts";
import { ProcessMetrics } from "../../libs/metrics/process-metrics.ts";
import { createTracing } from "../../libs/telemetry/tracing.ts";
import type { Autoscaler } from "../autoscaler/autoscaler.ts";
import type {
  autoscaledRunners,
  reloadAutoscalerPolicies,
  startAutoscalerService,
} from "../autoscaler/main.ts";
import type { SimulateArgs } from "../autoscaler/simulate-command.ts";
import type { signerCaches } from "../cache-signer/signed-caches.ts";
import type { CacheSigner, startCacheSigner } from "../cache-signer/signer.ts";
import type { loadSignerSettings } from "../cache-signer/signer-settings.ts";
import type { startWorkerService, workerDataDir, workerExecutors } from "../executor-worker/main.ts";
import type { loadMeshSettings } from "../executor-worker/mesh-settings.ts";
import type { ExecutorWorker } from "../executor-worker/worker.ts";
import type { resolveWorkerId, WorkerIdentity } from "../executor-worker/worker-id.ts";
import type { gitlabClientFor, pollTargets, startPollerService } from "../poller/main.ts";
import type { Poller } from "../poller/poller.ts";
import type { runnerCapacities, startSchedulerService } from "../scheduler/main.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import { effectiveLogLevel, type GlobalOptions } from "./cli/command-line.ts";
import type { TokenRotator, verifyRunnersAtStart } from "./token-rotation.ts";

/** config.toml for the tiers that read runner entries (poller, scheduler). */
export interface ConfigFile {
  load(path: string): Promise<{ config: Config; warnings: string[] }>;
  watch: typeof watchConfig;
}

export interface SchedulerTier {
  configFile: ConfigFile;
  start: typeof startSchedulerService;
  capacities: typeof runnerCapacities;
}

export interface PollerTier {
  configFile: ConfigFile;
  start: typeof startPollerService;
  targets: typeof pollTargets;
  clientFor: typeof gitlabClientFor;
  systemId(configPath: string): Promise<string>;
  verifyAtStart: typeof verifyRunnersAtStart;
  Rotator: typeof TokenRotator;
}

export interface WorkerTier {
  loadSettings: typeof loadMeshSettings;
  executors: typeof workerExecutors;
  dataDir: typeof workerDataDir;
  resolveId: typeof resolveWorkerId;
  start: typeof startWorkerService;
}

/** The cache-signer (issue 10): signs cache URLs with the file's [runners.cache] keys. */
export interface CacheSignerTier {
  /** `run`: the caches of the config the process loaded. */
  caches: typeof signerCaches;
  /** `cache-signer`: config.toml through the signer's own allowlist. */
  loadSettings: typeof loadSignerSettings;
  watch: typeof watchConfigFile;
  start: typeof startCacheSigner;
}

/** The autoscaler (issue 14): one per [runners.autoscaler] entry; `runmesh run` starts it when one has. */
export interface AutoscalerTier {
  configFile: ConfigFile;
  start: typeof startAutoscalerService;
  autoscaled: typeof autoscaledRunners;
  /** A reloaded config.toml: [[runners.autoscaler.policy]] only, as GitLab Runner 17.5+. */
  reloadPolicies: typeof reloadAutoscalerPolicies;
  /** `autoscaler simulate`: prints its report through `out`, returns the exit code. */
  simulate(args: SimulateArgs, out: (line: string) => void): Promise<number>;
}

/** The tiers this binary links: the all-in-one has all three, a per-tier binary its own. */
export interface TierSet {
  poller?: PollerTier;
  scheduler?: SchedulerTier;
  worker?: WorkerTier;
  cacheSigner?: CacheSignerTier;
  autoscaler?: AutoscalerTier;
}

/**
 * The tier's own NATS identity from its environment (RUNMESH_NATS_USER / _PASSWORD / _CREDS_FILE)
 * over [mesh]: a poller and a scheduler that share one config.toml still connect as different
 * users, each with its own subject permissions (deploy/nats/identities.conf). RUNMESH_NATS_TLS_CA_FILE
 * gives the CA to verify nats-server with (compose.yaml mounts it into every tier).
 */
export function natsIdentity<M extends BusSettings>(mesh: M, env: Record<string, string | undefined>): M {
  const user = env.RUNMESH_NATS_USER || undefined;
  const creds = env.RUNMESH_NATS_CREDS_FILE || undefined;
  const ca = env.RUNMESH_NATS_TLS_CA_FILE || undefined;
  if (ca) mesh = { ...mesh, nats_tls_ca_file: ca };
  if (!user && !creds) return mesh;
  return {
    ...mesh,
    nats_user: user ?? mesh.nats_user,
    nats_password: user ? env.RUNMESH_NATS_PASSWORD : mesh.nats_password,
    nats_creds_file: creds ?? mesh.nats_creds_file,
  };
}

function need<T>(tier: T | undefined, mode: Mode): T {
  if (!tier) throw new Error(`"${mode}" needs a tier this binary does not contain; use the runmesh binary`);
  return tier;
}

export type Mode = "run" | "poller" | "scheduler" | "worker" | "autoscaler" | "cache-signer";

export interface TierArgs {
  config?: string;
  nats?: string;
  user?: string;
  id?: string;
  slots?: string;
  "builds-dir"?: string;
  "working-directory"?: string;
  service?: string;
  syslog?: boolean;
  "listen-address"?: string;
}

/** Subject-safe id: NATS subjects take no dots or spaces inside one token. */
function safeId(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, "-");
}

export async function runTiers(
  mode: Mode,
  args: TierArgs,
  globals: GlobalOptions,
  tiers: TierSet,
): Promise<number> {
  // As multi.go: the working directory is entered first; builds and cache live under it.
  const workingDirectory = args["working-directory"];
  if (workingDirectory) {
    try {
      process.chdir(workingDirectory);
    } catch (e) {
      throw new Error(`--working-directory ${workingDirectory}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
  }
  const nats = args.nats ?? process.env.RUNMESH_NATS_URL;
  if (mode === "cache-signer") return runCacheSigner(args, nats, globals, need(tiers.cacheSigner, mode));
  let config: Config | undefined;
  let mesh: MeshConfig;
  let warnings: string[] = [];
  // /metrics, /healthz, /readyz, /debug/jobs/list: --listen-address, else config.toml's listen_address.
  let listenAddress: string | undefined;
  if (mode === "worker") {
    // Workers read [mesh] only: runner entries and their tokens stay with the poller.
    ({ mesh, warnings, listenAddress } = await need(tiers.worker, mode).loadSettings(args.config, {
      nats_url: nats,
      name: args.id,
      worker_slots: args.slots ? Number(args.slots) : undefined,
      builds_dir: args["builds-dir"],
    }));
    listenAddress = args["listen-address"] || listenAddress;
  } else {
    if (!args.config) throw new Error(`--config is required for "${mode}" (a GitLab Runner config.toml)`);
    const configFile = (tiers.poller ?? tiers.scheduler ?? need(tiers.autoscaler, mode)).configFile;
    ({ config, warnings } = await configFile.load(args.config));
    // multi.go listenAddress(): --listen-address ($LISTEN_ADDRESS) wins over config.toml's.
    listenAddress = args["listen-address"] || config.listen_address;
    mesh = nats ? { ...config.mesh, nats_url: nats } : config.mesh;
    if (workingDirectory && mode === "run") mesh = { ...mesh, data_dir: mesh.data_dir ?? process.cwd() };
    if (mode === "poller" || mode === "scheduler" || mode === "autoscaler") {
      if (!mesh.nats_url)
        throw new Error(
          `"${mode}" runs alone only over NATS: pass --nats nats://host:4222 or set [mesh] nats_url`,
        );
    }
  }
  const logger = createLogger({
    service: mode === "run" ? "runmesh" : mode,
    level: effectiveLogLevel(globals) ?? config?.log_level ?? process.env.RUNMESH_LOG_LEVEL ?? "info",
    format: globals.logFormat ?? config?.log_format,
  });
  if (mode === "run") {
    logger.info(
      { service: args.service ?? "gitlab-runner", workingDirectory: process.cwd(), config: args.config },
      "Starting multi-runner",
    );
    // Under systemd (the unit GitLab Runner's install writes) stderr already goes to the journal.
    if (args.syslog)
      logger.debug("--syslog: logging to stderr, which the service manager's journal collects");
  }
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
    const w = need(tiers.worker, mode);
    w.executors(mesh);
    identity = await w.resolveId({
      id: args.id,
      meshName: mesh.name !== hostname() ? mesh.name : undefined,
      dataDir: w.dataDir(mesh),
    });
    logger.info({ worker: identity.id, from: identity.source }, "worker id");
  }
  const bus = await connectBus(natsIdentity(mesh, process.env), `runmesh-${mode}-${name}`, logger);
  logger.info({ transport: bus.transport, mode }, "bus connected");
  // One registry and one server for every tier of this process.
  const metrics = new ProcessMetrics({ version: RUNMESH_VERSION, revision: RUNMESH_REVISION });
  // OpenTelemetry spans when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set; nothing is loaded otherwise.
  const tracing = await createTracing({ service: `runmesh-${mode}` });
  let scheduler: Scheduler | undefined;
  let worker: ExecutorWorker | undefined;
  let poller: Poller | undefined;
  // GitLab's name for this manager; in `run` the scheduler's gitlab_runner_limit carries it too.
  const systemId =
    mode === "run" || mode === "poller" ? await need(tiers.poller, mode).systemId(args.config!) : undefined;
  if (mode === "run" || mode === "scheduler")
    scheduler = await need(tiers.scheduler, mode).start({
      config: config!,
      bus,
      logger,
      listenAddress,
      metrics,
      systemId,
      tracing,
    });
  // The only tier with plugin credentials; an autoscaler waits as a standby until it holds its group.
  let autoscalers: Autoscaler[] = [];
  if (mode === "autoscaler" || (mode === "run" && tiers.autoscaler?.autoscaled(config!).length))
    autoscalers = await need(tiers.autoscaler, mode).start({
      config: config!,
      configPath: args.config!,
      bus,
      logger,
      autoscalerId: `${name}-${process.pid}`,
      listenAddress,
      metrics,
      systemId,
    });
  // The only tier with object-storage keys; before the worker, so a first job finds it.
  let signer: CacheSigner | undefined;
  const signerTier = mode === "run" ? tiers.cacheSigner : undefined;
  const caches = signerTier?.caches(config!);
  if (signerTier && caches?.size)
    signer = await signerTier.start({ bus, logger: logger.child({ component: "cache-signer" }), caches });
  if (identity) {
    worker = await need(tiers.worker, mode).start({
      listenAddress,
      metrics,
      mesh,
      bus,
      logger,
      workerId: identity.id,
      tracing,
      user: args.user ?? config?.user,
    });
  }
  if (systemId !== undefined) {
    poller = await need(tiers.poller, mode).start({
      listenAddress,
      metrics,
      config: config!,
      bus,
      logger,
      systemId,
      pollerId: `${name}-${process.pid}`,
      tracing,
    });
  }
  let rotator: TokenRotator | undefined;
  if (config && args.config) {
    // Only what GitLab Runner reloads: runner entries, concurrent, check_interval, log level,
    // and health (wiped). Workers need nothing: each job brings its runner's settings.
    const path = args.config;
    const configFile = (tiers.poller ?? tiers.scheduler ?? need(tiers.autoscaler, mode)).configFile;
    const watch = await configFile.watch(
      path,
      async (next) => {
        if (!effectiveLogLevel(globals) && next.log_level) logger.level = pinoLevel(next.log_level);
        if (scheduler && tiers.scheduler)
          scheduler.reconfigure(next.concurrent, tiers.scheduler.capacities(next));
        if (poller && tiers.poller)
          await poller.reload(tiers.poller.targets(next, logger), next.check_interval_ms);
        rotator?.plan(next);
        if (autoscalers.length && tiers.autoscaler)
          tiers.autoscaler.reloadPolicies(autoscalers, next, logger);
        // A signed cache a reload adds gets its signer then.
        const nextCaches = signerTier?.caches(next);
        if (signer && nextCaches) signer.reload(nextCaches);
        else if (signerTier && nextCaches?.size)
          signer = await signerTier.start({
            bus,
            logger: logger.child({ component: "cache-signer" }),
            caches: nextCaches,
          });
      },
      logger,
    );
    if (poller && tiers.poller && systemId !== undefined) {
      const p = tiers.poller;
      // The process that polls holds the runner tokens, so it verifies and rotates them.
      p.verifyAtStart(config, systemId, logger);
      rotator = new p.Rotator({
        configPath: path,
        logger,
        systemId,
        resetToken: (r) => p.clientFor(r, logger).resetToken({ token: r.token }),
        reload: () => watch.reload(),
      });
      rotator.plan(config);
    }
  } else
    process.on("SIGHUP", () =>
      logger.info("SIGHUP: nothing to reload (a worker's jobs bring their settings)"),
    );
  startupDone();
  logger.info({ mode, version: RUNMESH_VERSION }, "runmesh ready");
  const code = await waitForSignals({
    logger,
    bus,
    poller,
    scheduler,
    worker,
    autoscalers,
    shutdownTimeoutMs: config?.shutdown_timeout_ms ?? 30_000,
  });
  await rotator?.stop();
  await tracing.shutdown().catch(() => {});
  await identity?.release();
  return code;
}

/**
 * `runmesh cache-signer`: the one tier with object-storage keys, alone over NATS. It reads
 * config.toml through its own allowlist (never a full runner token) and re-reads it on change
 * and SIGHUP, as GitLab Runner reloads [runners.cache]: the next request is signed with it.
 */
async function runCacheSigner(
  args: TierArgs,
  nats: string | undefined,
  globals: GlobalOptions,
  tier: CacheSignerTier,
): Promise<number> {
  const path = args.config;
  if (!path) throw new Error(`--config is required for "cache-signer" (a GitLab Runner config.toml)`);
  const settings = await tier.loadSettings(path, { nats });
  if (!settings.mesh.nats_url)
    throw new Error(
      `"cache-signer" runs alone only over NATS: pass --nats nats://host:4222 or set [mesh] nats_url`,
    );
  const logger = createLogger({
    service: "cache-signer",
    level: effectiveLogLevel(globals) ?? settings.logLevel ?? process.env.RUNMESH_LOG_LEVEL ?? "info",
    format: globals.logFormat ?? settings.logFormat,
  });
  for (const w of settings.warnings) logger.warn(w);
  const bus = await connectBus(
    natsIdentity(settings.mesh, process.env),
    `runmesh-cache-signer-${safeId(settings.mesh.name ?? hostname())}`,
    logger,
  );
  logger.info({ transport: bus.transport, mode: "cache-signer" }, "bus connected");
  // /healthz (and /metrics) on --listen-address: what compose.yaml's healthcheck probes.
  const metrics = new ProcessMetrics({ version: RUNMESH_VERSION, revision: RUNMESH_REVISION });
  if (args["listen-address"]) await metrics.serve(args["listen-address"], logger);
  const signer = await tier.start({ bus, logger, caches: settings.caches });
  const watch = await tier.watch(
    path,
    async (p) => {
      const next = await tier.loadSettings(p, { nats });
      return { value: next, warnings: next.warnings };
    },
    (next) => {
      if (!effectiveLogLevel(globals) && next.logLevel) logger.level = pinoLevel(next.logLevel);
      signer.reload(next.caches);
    },
    logger,
  );
  startupDone();
  logger.info({ mode: "cache-signer", version: RUNMESH_VERSION }, "runmesh ready");
  const code = await waitForSignals({ logger, bus, shutdownTimeoutMs: 30_000 });
  watch.stop();
  await metrics.close();
  return code;
}

/**
 * Start-up is over: JavaScriptCore's tier-up goes from the binaries' start-up policy (1000× more
 * reluctant, scripts/build-flags.ts: run-once schemas and config never reach the JIT's pages) to
 * 10×: code that is really hot (a job's trace, archives) still compiles, what a tier does while
 * idle does not. Idle RSS of the poller, by the policy set here: 1 → 61.8 MB, 10 → 59.9, 1000 → 58.8.
 */
function startupDone(): void {
  Bun.unsafe.setJITPolicy(10);
}

function waitForSignals(o: {
  logger: Logger;
  bus: Bus;
  poller?: Poller;
  scheduler?: Scheduler;
  worker?: ExecutorWorker;
  autoscalers?: Autoscaler[];
  shutdownTimeoutMs: number;
}): Promise<number> {
  return new Promise((resolve) => {
    let signals = 0;
    const finish = async (code: number) => {
      await o.scheduler?.stop().catch(() => {});
      await o.worker?.stop().catch(() => {});
      // After the jobs: an autoscaler hands its group's lease over (delete_instances_on_shutdown).
      for (const a of o.autoscalers ?? []) await a.stop().catch(() => {});
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
