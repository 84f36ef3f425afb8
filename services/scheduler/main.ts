// Scheduler service entry: `runmesh scheduler --config config.toml --nats nats://…`.
// It reads config.toml for capacity (concurrent, limit, executor) and keeps no runner token.
import type { Bus } from "../../libs/bus/bus.ts";
import type { Config } from "../../libs/config/index.ts";
import { shortToken } from "../../libs/config/index.ts";
import type { Logger } from "../../libs/log/logger.ts";
import { gitlabClients, runnerInfoFor } from "../../libs/mesh/gitlab-clients.ts";
import { GitLabReporter } from "../../libs/mesh/gitlab-reporter.ts";
import type { RunnerCapacity } from "./capacity-ledger.ts";
import { Scheduler } from "./scheduler.ts";

/** What the scheduler keeps of each runner entry: capacity, never the token. */
export function runnerCapacities(config: Config): RunnerCapacity[] {
  return config.runners.map((r) => ({
    key: r.runnerKey,
    name: r.name ?? shortToken(r.token),
    limit: r.limit,
    executor: r.executor,
  }));
}

export async function startSchedulerService(o: {
  config: Config;
  bus: Bus;
  logger: Logger;
}): Promise<Scheduler> {
  const { config, logger } = o;
  const runners = runnerCapacities(config);
  const scheduler = new Scheduler({
    bus: o.bus,
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
  return scheduler;
}
