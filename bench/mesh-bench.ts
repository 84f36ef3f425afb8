// Shared set-up of the mesh benchmarks: a coordinator plus the three tiers (in-process or
// over a private nats-server), with one shell runner entry.
import type { Coordinator, CoordinatorJob } from "../tests/coordinator/coordinator.ts";
import { startCoordinator } from "../tests/coordinator/coordinator.ts";
import { type Mesh, startMesh, type Transport } from "../tests/e2e/mesh-harness.ts";
import { type NatsServer, startNatsServer } from "../tests/infra/nats-server.ts";

export const BENCH_TOKEN = "glrt-bench-runner-0123456789";

export interface BenchMesh {
  coordinator: Coordinator;
  mesh: Mesh;
  stop(): Promise<void>;
}

export async function startBenchMesh(transport: Transport, concurrent: number): Promise<BenchMesh> {
  let nats: NatsServer | undefined;
  if (transport === "nats") nats = await startNatsServer();
  const coordinator = await startCoordinator({ longPollMs: 50_000, traceUpdateIntervalS: 60 });
  coordinator.registerRunner(BENCH_TOKEN);
  const mesh = await startMesh({
    transport,
    natsUrl: nats?.url,
    config: {
      url: coordinator.url,
      concurrent,
      checkInterval: 3,
      runners: [
        { name: "bench", token: BENCH_TOKEN, requestConcurrency: Math.max(1, Math.min(4, concurrent)) },
      ],
    },
    workerSlots: concurrent,
  });
  return {
    coordinator,
    mesh,
    async stop() {
      await mesh.stop();
      await coordinator.stop();
      await nats?.stop();
    },
  };
}

/** Resolves at the moment GitLab (the coordinator) sees the job acknowledged as running. */
export function whenRunning(c: Coordinator, id: number): Promise<number> {
  return new Promise((resolve) => {
    const on = (job: CoordinatorJob) => {
      if (job.id === id && job.status !== "pending" && job.status !== "waiting_for_ack") {
        c.events.off("job", on);
        resolve(performance.now());
      }
    };
    c.events.on("job", on);
  });
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
