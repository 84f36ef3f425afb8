// Starts the three tiers inside the test process, on the in-process bus or each on its own
// NATS connection to a real nats-server, against the test coordinator. Captures every log line
// so tests can read them (and scan them for secrets).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bus } from "../../libs/bus/bus.ts";
import { createInprocBus } from "../../libs/bus/inproc-bus.ts";
import { connectNatsBus } from "../../libs/bus/nats-bus.ts";
import { type Config, parseConfig } from "../../libs/config/index.ts";
import { createLogger } from "../../libs/log/logger.ts";
import type { Tracing } from "../../libs/telemetry/tracing.ts";
import { startWorkerService } from "../../services/executor-worker/main.ts";
import type { ExecutorWorker } from "../../services/executor-worker/worker.ts";
import { startPollerService } from "../../services/poller/main.ts";
import type { Poller } from "../../services/poller/poller.ts";
import { startSchedulerService } from "../../services/scheduler/main.ts";
import type { Scheduler } from "../../services/scheduler/scheduler.ts";

export type Transport = "inproc" | "nats";

export interface RunnerSpec {
  name: string;
  token: string;
  limit?: number;
  requestConcurrency?: number;
  extra?: string;
}

export interface ConfigSpec {
  url: string;
  concurrent: number;
  runners: RunnerSpec[];
  checkInterval?: number;
  mesh?: Record<string, string | number>;
  global?: string;
}

export function configToml(s: ConfigSpec): string {
  const buildsDir = mkdtempSync(join(tmpdir(), "runmesh-builds-"));
  const lines = [`concurrent = ${s.concurrent}`, `check_interval = ${s.checkInterval ?? 1}`, s.global ?? ""];
  lines.push("[mesh]");
  for (const [k, v] of Object.entries({ heartbeat_interval: "200ms", worker_lost_after: "2s", ...s.mesh }))
    lines.push(`${k} = ${typeof v === "number" ? v : JSON.stringify(v)}`);
  for (const r of s.runners) {
    lines.push(
      "[[runners]]",
      `name = ${JSON.stringify(r.name)}`,
      `url = ${JSON.stringify(s.url)}`,
      `token = ${JSON.stringify(r.token)}`,
      'executor = "shell"',
      `builds_dir = ${JSON.stringify(buildsDir)}`,
      `limit = ${r.limit ?? 0}`,
      `request_concurrency = ${r.requestConcurrency ?? 1}`,
      r.extra ?? "",
    );
  }
  return lines.join("\n");
}

export interface Mesh {
  config: Config;
  logs: string[];
  buses: Bus[];
  poller: Poller;
  scheduler: Scheduler;
  workers: ExecutorWorker[];
  stop(): Promise<void>;
}

export async function startMesh(o: {
  transport: Transport;
  natsUrl?: string;
  config: ConfigSpec;
  workers?: number;
  workerSlots?: number;
  traceUpdateIntervalMs?: number;
  systemId?: string;
  /** OpenTelemetry per tier (`scheduler`, `worker-0`, `poller`); none by default. */
  tracing?: (service: string) => Promise<Tracing>;
}): Promise<Mesh> {
  const { config } = parseConfig(configToml(o.config), { source: "test-config.toml", hostname: "test-host" });
  const logs: string[] = [];
  const logger = (service: string) =>
    createLogger({ service, level: "debug", destination: { write: (l: string) => logs.push(l) } });
  const shared = o.transport === "inproc" ? createInprocBus() : undefined;
  const buses: Bus[] = shared ? [shared] : [];
  const bus = async (name: string) => {
    if (shared) return shared;
    const b = await connectNatsBus({ servers: o.natsUrl!, name });
    buses.push(b);
    return b;
  };
  const tracing = (service: string) => o.tracing?.(service);
  const scheduler = await startSchedulerService({
    config,
    bus: await bus("scheduler"),
    logger: logger("scheduler"),
    tracing: await tracing("scheduler"),
  });
  const workers: ExecutorWorker[] = [];
  for (let i = 0; i < (o.workers ?? 1); i++) {
    workers.push(
      await startWorkerService({
        mesh: { ...config.mesh, worker_slots: o.workerSlots ?? config.mesh.worker_slots },
        bus: await bus(`worker-${i}`),
        logger: logger(`worker-${i}`),
        workerId: `w${i}`,
        tracing: await tracing(`worker-${i}`),
        traceUpdateIntervalMs: o.traceUpdateIntervalMs ?? 200,
      }),
    );
  }
  const poller = await startPollerService({
    config,
    bus: await bus("poller"),
    logger: logger("poller"),
    systemId: o.systemId ?? "s_0123456789ab",
    pollerId: "p0",
    tracing: await tracing("poller"),
  });
  return {
    config,
    logs,
    buses,
    poller,
    scheduler,
    workers,
    async stop() {
      await poller.stopRequesting();
      await Promise.all(workers.map((w) => w.abortAll(5000)));
      await scheduler.stop();
      await Promise.all(workers.map((w) => w.stop()));
      for (const b of buses) await b.close().catch(() => {});
    },
  };
}
