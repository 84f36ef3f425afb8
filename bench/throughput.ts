// Throughput: trivial `true` jobs per second through the whole mesh (request, handoff, dispatch,
// claim, acknowledge, shell, trace, final update), in-process and over NATS.
// Usage: bun bench/throughput.ts [jobs] [concurrent] [--machine-home]
//
// The shell executor runs every stage in a login shell (`bash --login`, as GitLab Runner does),
// which sources the job user's ~/.profile. On the development machine root's profile runs
// `pyenv init` (~140 ms per stage), which would measure that profile rather than runmesh; so by
// default the jobs get an empty HOME. --machine-home keeps the real one.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BENCH_TOKEN, startBenchMesh } from "./mesh-bench.ts";

const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const machineHome = process.argv.includes("--machine-home");
if (!machineHome) process.env.HOME = mkdtempSync(join(tmpdir(), "runmesh-bench-home-"));
const jobs = Number(args[0] ?? 200);
const concurrent = Number(args[1] ?? 8);
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
      `throughput ${transport.padEnd(6)} ${jobs} jobs, concurrent=${concurrent}, ${machineHome ? "machine HOME" : "empty HOME"}: ${(jobs / secs).toFixed(1)} jobs/s (${secs.toFixed(2)} s, ${ok}/${jobs} succeeded, max running at once ${b.coordinator.maxConcurrentRunning(undefined, "assigned")})`,
    );
  } finally {
    await b.stop();
  }
}
console.log(results.join("\n"));
process.exit(0);
