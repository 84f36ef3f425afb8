// Poller service entry: `runmesh poller --config config.toml --nats nats://…`.

import { RUNMESH_REVISION, RUNMESH_VERSION } from "../../libs/build-info/version.ts";
import type { Bus } from "../../libs/bus/bus.ts";
import type { Config } from "../../libs/config/index.ts";
import {
  defaultCertsDir,
  resolveRunnerTls,
  shortToken,
  workerRunnerSettings,
} from "../../libs/config/index.ts";
import { runnerInfoFor } from "../../libs/executors/runner-clients.ts";
import { GitLabClient } from "../../libs/gitlab/client.ts";
import type { Logger } from "../../libs/log/logger.ts";
import { type ProcessMetrics, tierMetrics } from "../../libs/metrics/process-metrics.ts";
import type { Tracing } from "../../libs/telemetry/tracing.ts";
import { Poller, type PollTarget } from "./poller.ts";

export interface PollerServiceOptions {
  config: Config;
  bus: Bus;
  logger: Logger;
  systemId: string;
  pollerId: string;
  certsDir?: string;
  /** Where /metrics, /healthz, /readyz and /debug/jobs/list are served; default: config.toml's listen_address. */
  listenAddress?: string;
  /** This process's metrics, shared with the other tiers it runs; one is made when absent. */
  metrics?: ProcessMetrics;
  /** Spans of accepted jobs (OpenTelemetry); none by default. */
  tracing?: Tracing;
}

/** The GitLab client of one runner entry: its URL, its TLS files, logs naming the entry. */
export function gitlabClientFor(
  r: Config["runners"][number],
  logger: Logger,
  certsDir?: string,
): GitLabClient {
  return new GitLabClient({
    url: r.url,
    version: RUNMESH_VERSION,
    revision: RUNMESH_REVISION,
    tls: resolveRunnerTls(r, certsDir ?? defaultCertsDir()),
    logger,
    runner: r.name ?? shortToken(r.token),
  });
}

export function pollTargets(config: Config, logger: Logger, certsDir?: string): PollTarget[] {
  const targets: PollTarget[] = [];
  for (const r of config.runners) {
    const name = r.name ?? shortToken(r.token);
    if (!r.token.trim()) {
      logger.warn({ runner: name }, "runner has an empty token; skipped (register it first)");
      continue;
    }
    const tls = resolveRunnerTls(r, certsDir ?? defaultCertsDir());
    const client = gitlabClientFor(r, logger, certsDir);
    targets.push({
      key: r.runnerKey,
      name,
      url: r.url,
      token: r.token,
      health: {
        requestConcurrency: r.request_concurrency,
        unhealthyRequestsLimit: r.unhealthy_requests_limit,
        unhealthyIntervalMs: r.unhealthy_interval_ms,
        adaptive: r.feature_flags?.FF_USE_ADAPTIVE_REQUEST_CONCURRENCY !== false,
      },
      strictCheckInterval: r.strict_check_interval,
      info: runnerInfoFor(r),
      settings: { ...workerRunnerSettings(r), short_token: shortToken(r.token) },
      tls: { caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile },
      client,
    });
  }
  return targets;
}

export async function startPollerService(o: PollerServiceOptions): Promise<Poller> {
  const m = await tierMetrics(
    { ...o, listenAddress: o.listenAddress ?? o.config.listen_address, tier: "poller" },
    { version: RUNMESH_VERSION, revision: RUNMESH_REVISION },
  );
  const targets = pollTargets(o.config, o.logger, o.certsDir);
  const poller = new Poller({
    tracing: o.tracing,
    bus: m.bus,
    logger: o.logger,
    pollerId: o.pollerId,
    systemId: o.systemId,
    checkIntervalMs: o.config.check_interval_ms,
    targets,
    metrics: m.served?.metrics,
  });
  await poller.start();
  // Ready while the bus is connected and there is a runner entry to ask GitLab for.
  m.process.addProbe({
    tier: "poller",
    ready: () => {
      if (o.bus.status() !== "connected") return { ready: false, why: `bus ${o.bus.status()}` };
      if (!poller.runnerCount) return { ready: false, why: "no [[runners]] entry with a token to poll" };
      return { ready: true };
    },
  });
  return poller;
}
