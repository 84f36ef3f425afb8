// Executor-worker service entry: `runmesh worker --nats nats://… [--config mesh.toml]`.
// A worker needs only [mesh] settings: runner entries (and their tokens) are never read here.
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bus } from "../../libs/bus/bus.ts";
import type { MeshConfig } from "../../libs/config/index.ts";
import { ShellExecutor } from "../../libs/executors/shell-executor.ts";
import type { Logger } from "../../libs/log/logger.ts";
import { gitlabClients, runnerInfoFor } from "../../libs/mesh/gitlab-clients.ts";
import { RUNMESH_VERSION } from "../../libs/mesh/version.ts";
import { ExecutorWorker } from "./worker.ts";

export interface WorkerServiceOptions {
  mesh: MeshConfig;
  bus: Bus;
  logger: Logger;
  workerId: string;
  /** `run --user`: the OS user that runs job scripts (GitLab Runner's shell executor option). */
  user?: string;
  traceUpdateIntervalMs?: number;
}

export async function startWorkerService(o: WorkerServiceOptions): Promise<ExecutorWorker> {
  const buildsDir = o.mesh.builds_dir ?? join(o.mesh.data_dir ?? join(tmpdir(), "runmesh"), "builds");
  const worker = new ExecutorWorker({
    bus: o.bus,
    logger: o.logger,
    workerId: o.workerId,
    slots: o.mesh.worker_slots,
    executors: o.mesh.worker_executors,
    heartbeatIntervalMs: o.mesh.heartbeat_interval_ms,
    clientFor: gitlabClients(o.logger),
    infoFor: (job) => runnerInfoFor(job.runner),
    executorFor: () => new ShellExecutor({ user: o.user }),
    buildsDir,
    version: RUNMESH_VERSION,
    traceUpdateIntervalMs: o.traceUpdateIntervalMs,
  });
  await worker.start();
  return worker;
}
