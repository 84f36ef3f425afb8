// Throughput: trivial `true` jobs per second through the whole mesh (request, handoff, dispatch,
// claim, acknowledge, shell, trace, final update), in-process and over NATS.
// Usage: bun bench/throughput.ts [jobs] [concurrent]
import { BENCH_TOKEN, startBenchMesh } from "./mesh-bench.ts";

const jobs = Number(process.argv[2] ?? 200);
const concurrent = Number(process.argv[3] ?? 8);
const results: string[] = [];
for (const transport of ["inproc", "nats"] as const) {
  const b = await startBenchMesh(transport, concurrent);
  try {
    await Bun.sleep(300);
    const t0 = performance.now();
    const ids = Array.from(
      { length: jobs },
      () => b.coordinator.enqueueJob(BENCH_TOKEN, { script: ["true"], gitStrategy: "none" }).id,
    );
    const done = await Promise.all(ids.map((id) => b.coordinator.waitForFinal(id, 600_000)));
    const secs = (performance.now() - t0) / 1000;
    const ok = done.filter((d) => d.status === "success").length;
    results.push(
      `throughput ${transport.padEnd(6)} ${jobs} jobs, concurrent=${concurrent}: ${(jobs / secs).toFixed(1)} jobs/s (${secs.toFixed(2)} s, ${ok}/${jobs} succeeded, max running at once ${b.coordinator.maxConcurrentRunning(undefined, "assigned")})`,
    );
  } finally {
    await b.stop();
  }
}
console.log(results.join("\n"));
process.exit(0);
