// Executor-worker service entry: `runmesh worker --nats nats://… [--config mesh.toml]`.
// A worker needs only [mesh] settings: runner entries (and their tokens) are never read here.
// It runs the executors its registry has and `[mesh] worker_executors` names, and refuses to
// start when that list names one it does not have.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RUNMESH_REVISION, RUNMESH_VERSION } from "../../libs/build-info/version.ts";
import type { Bus } from "../../libs/bus/bus.ts";
import { ConfigError, type MeshConfig } from "../../libs/config/index.ts";
import {
  builtinExecutors,
  type ExecutorRegistry,
  UnknownExecutorError,
} from "../../libs/executors/registry.ts";
import { gitlabClients, runnerInfoFor } from "../../libs/executors/runner-clients.ts";
import type { Logger } from "../../libs/log/logger.ts";
import type { AcceptedJob } from "../../libs/messages/subjects.ts";
import { observeJobApi } from "../../libs/metrics/job-api-calls.ts";
import { type ProcessMetrics, tierMetrics } from "../../libs/metrics/process-metrics.ts";
import type { Tracing } from "../../libs/telemetry/tracing.ts";
import { ExecutorWorker } from "./worker.ts";

export interface WorkerServiceOptions {
  mesh: MeshConfig;
  bus: Bus;
  logger: Logger;
  workerId: string;
  /** `run --user`: the OS user that runs job scripts (GitLab Runner's shell executor option). */
  user?: string;
  /** Executors this build of the worker has; default: the built-in ones. Tests add their own. */
  executors?: ExecutorRegistry;
  traceUpdateIntervalMs?: number;
  /**
   * Where /metrics, /healthz, /readyz and /debug/jobs/list are served. A worker reads no
   * config.toml globals, so its owner passes the file's listen_address (or the flag) here.
   */
  listenAddress?: string;
  /** This process's metrics, shared with the other tiers it runs; one is made when absent. */
  metrics?: ProcessMetrics;
  /** Job spans (OpenTelemetry); none by default. */
  tracing?: Tracing;
}

/** The worker's data dir: [mesh] data_dir, or runmesh's folder under the system temp dir. */
export function workerDataDir(mesh: Pick<MeshConfig, "data_dir">): string {
  return mesh.data_dir ?? join(tmpdir(), "runmesh");
}

/**
 * The registry narrowed to `[mesh] worker_executors`: a configuration error, naming the key, the
 * value and what is available, when an entry names an executor this worker does not have.
 */
export function workerExecutors(
  mesh: Pick<MeshConfig, "worker_executors">,
  registry: ExecutorRegistry = builtinExecutors(),
): ExecutorRegistry {
  try {
    return registry.select(mesh.worker_executors);
  } catch (e) {
    if (e instanceof UnknownExecutorError) throw new ConfigError([e.message]);
    throw e;
  }
}

export async function startWorkerService(o: WorkerServiceOptions): Promise<ExecutorWorker> {
  const executors = workerExecutors(o.mesh, o.executors);
  const dataDir = workerDataDir(o.mesh);
  const executorOptions = { user: o.user, workerId: o.workerId, dataDir };
  // What a previous run of this worker left on its engines (a crash) goes before any job runs.
  for (const name of executors.names()) {
    const removed = await executors
      .get(name)
      ?.recover?.(executorOptions)
      .catch((e: Error) => {
        o.logger.warn({ executor: name, err: e.message }, "sweeping leftovers failed");
        return [];
      });
    if (removed && removed.length > 0)
      o.logger.info({ executor: name, removed }, "removed leftovers of a previous run");
  }
  const m = await tierMetrics(
    { ...o, tier: "worker" },
    { version: RUNMESH_VERSION, revision: RUNMESH_REVISION },
  );
  const metrics = m.served?.metrics;
  const clients = gitlabClients(o.logger);
  const worker = new ExecutorWorker({
    tracing: o.tracing,
    bus: m.bus,
    metrics: m.served?.metrics,
    logger: o.logger,
    workerId: o.workerId,
    slots: o.mesh.worker_slots,
    executors,
    // The instance executors ask the autoscaler tier for instances over the worker's bus.
    executorOptions: { ...executorOptions, bus: m.bus },
    heartbeatIntervalMs: o.mesh.heartbeat_interval_ms,
    // With metrics, each job's PUTs and PATCHes count in gitlab_runner_api_request_statuses_total.
    clientFor: metrics
      ? (job) => {
          const { runner, systemId } = job as Partial<AcceptedJob>;
          const ids = {
            runner: runner?.short_token ?? "",
            runnerName: job.runnerName,
            systemId: systemId ?? "",
          };
          return observeJobApi(clients(job), (endpoint, method, status, s) =>
            metrics.apiRequest(ids, endpoint, method, status, s),
          );
        }
      : clients,
    infoFor: (job) => runnerInfoFor(job.runner, executors),
    buildsDir: o.mesh.builds_dir ?? join(dataDir, "builds"),
    cacheDir: join(dataDir, "cache"),
    version: RUNMESH_VERSION,
    revision: RUNMESH_REVISION,
    traceUpdateIntervalMs: o.traceUpdateIntervalMs,
  });
  await worker.start();
  m.process.addProbe({
    tier: "worker",
    ready: () => {
      if (o.bus.status() !== "connected") return { ready: false, why: `bus ${o.bus.status()}` };
      // Heartbeating: the scheduler counts a worker lost after a few missed ones.
      const age = worker.heartbeatAgeMs();
      if (age === undefined || age > 3 * worker.heartbeatIntervalMs)
        return { ready: false, why: `no heartbeat sent for ${age === undefined ? "ever" : `${age} ms`}` };
      return { ready: true };
    },
  });
  return worker;
}
