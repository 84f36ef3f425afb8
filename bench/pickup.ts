// Pickup latency: job enqueued at the coordinator → its `PUT state=running`, with long polling
// on (the poller is parked in a 50 s long poll when the job arrives, as in production).
// Usage: bun bench/pickup.ts [samples]
import { BENCH_TOKEN, percentile, startBenchMesh, whenRunning } from "./mesh-bench.ts";

const samples = Number(process.argv[2] ?? 40);
const results: string[] = [];
for (const transport of ["inproc", "nats"] as const) {
  const b = await startBenchMesh(transport, 2);
  const lat: number[] = [];
  try {
    for (let i = 0; i < samples + 3; i++) {
      // A long poll is held when the job comes, as in production, so each sample measures a
      // wake-up, not a fresh request. (Until 2026-11-30 each sample waited for a long poll to
      // start anew; once a lane no longer re-requested after every job, that meant waiting for
      // Workhorse's 50 s timeout, and sampled only the moment after one.)
      await b.coordinator.whenLongPollHeld();
      await Bun.sleep(20);
      const t0 = performance.now();
      const job = b.coordinator.enqueueJob(BENCH_TOKEN, { script: ["true"], gitStrategy: "none" });
      const t1 = await whenRunning(b.coordinator, job.id);
      await b.coordinator.waitForFinal(job.id, 30_000);
      if (i >= 3) lat.push(t1 - t0); // the first few warm up JIT and connections
    }
  } finally {
    await b.stop();
  }
  lat.sort((x, y) => x - y);
  results.push(
    `pickup ${transport.padEnd(6)} n=${lat.length} p50=${percentile(lat, 50).toFixed(1)} ms p99=${percentile(lat, 99).toFixed(1)} ms max=${lat[lat.length - 1]!.toFixed(1)} ms`,
  );
}
console.log(results.join("\n"));
process.exit(0);
