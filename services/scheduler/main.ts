// Scheduler service entry: `runmesh scheduler --config config.toml --nats nats://…`.
// It reads config.toml for capacity (concurrent, limit, executor) and keeps no runner token.

import { RUNMESH_REVISION, RUNMESH_VERSION } from "../../libs/build-info/version.ts";
import type { Bus } from "../../libs/bus/bus.ts";
import type { Config } from "../../libs/config/index.ts";
import { shortToken } from "../../libs/config/index.ts";
import { gitlabClients, runnerInfoFor } from "../../libs/executors/runner-clients.ts";
import { GitLabReporter } from "../../libs/gitlab/gitlab-reporter.ts";
import type { Logger } from "../../libs/log/logger.ts";
import { type ProcessMetrics, tierMetrics } from "../../libs/metrics/process-metrics.ts";
import type { Tracing } from "../../libs/telemetry/tracing.ts";
import type { RunnerCapacity } from "./capacity-ledger.ts";
import { Scheduler } from "./scheduler.ts";

/** What the scheduler keeps of each runner entry: capacity, never the token. */
export function runnerCapacities(config: Config): RunnerCapacity[] {
  return config.runners.map((r) => ({
    key: r.runnerKey,
    name: r.name ?? shortToken(r.token),
    limit: r.limit,
    executor: r.executor,
    shortToken: shortToken(r.token),
  }));
}

export async function startSchedulerService(o: {
  config: Config;
  bus: Bus;
  logger: Logger;
  /** Where /metrics, /healthz, /readyz and /debug/jobs/list are served; default: config.toml's listen_address. */
  listenAddress?: string;
  /** This process's metrics, shared with the other tiers it runs; one is made when absent. */
  metrics?: ProcessMetrics;
  /** The system_id label of gitlab_runner_limit (the poller's, when it runs in this process). */
  systemId?: string;
  /** Dispatch spans (OpenTelemetry); none by default. */
  tracing?: Tracing;
}): Promise<Scheduler> {
  const { config, logger } = o;
  const m = await tierMetrics(
    { ...o, listenAddress: o.listenAddress ?? config.listen_address, tier: "scheduler" },
    { version: RUNMESH_VERSION, revision: RUNMESH_REVISION },
  );
  const runners = runnerCapacities(config);
  const scheduler = new Scheduler({
    tracing: o.tracing,
    bus: m.bus,
    metrics: m.served?.metrics,
    logger,
    concurrent: config.concurrent,
    runners,
    reporter: new GitLabReporter(gitlabClients(logger), (job) => runnerInfoFor(job.runner), logger),
    leaseTtlMs: config.mesh.lease_ttl_ms,
    workerLostAfterMs: config.mesh.worker_lost_after_ms,
    dispatchTimeoutMs: config.mesh.dispatch_timeout_ms,
    pendingKeepaliveIntervalMs: config.mesh.pending_keepalive_interval_ms,
  });
  await scheduler.start();
  m.served?.metrics.watchCapacity(() => scheduler.capacityView(o.systemId));
  m.process.addProbe({
    tier: "scheduler",
    ready: () => {
      if (!scheduler.isActive) return { ready: false, why: "scheduler stopped" };
      if (o.bus.status() !== "connected") return { ready: false, why: `bus ${o.bus.status()}` };
      return { ready: true };
    },
  });
  return scheduler;
}
