// A job that prints 1 GiB: the output streams through the shell executor, the per-stream
// masker, the timestamper and the file-backed trace buffer while the whole mesh runs in this
// process; RSS is sampled during the job. Run twice: GitLab's default output_limit (4 MiB, the
// rest is dropped after the notice) and a 2 GiB limit (every byte kept and PATCHed).
// Usage: bun bench/job-output-memory.ts [MiB]
// The coordinator (fake GitLab, which keeps the whole log in memory) runs as its own process,
// so the RSS measured here is runmesh's alone.
import { join } from "node:path";
import { startMesh } from "../tests/e2e/mesh-harness.ts";
import { BUN } from "../tests/e2e/processes.ts";

const mib = Number(process.argv[2] ?? 1024);
const TOKEN = "glrt-bench-output-0123456789";
const rows: string[] = [];
for (const [label, limitKiB] of [
  ["output_limit 4 MiB (default)", 4096],
  ["output_limit 2 GiB", 2 * 1024 * 1024],
] as const) {
  const proc = Bun.spawn(
    [
      BUN,
      join(import.meta.dir, "..", "tests", "coordinator", "main.ts"),
      "--port",
      "0",
      "--trace-interval-s",
      "3",
      "--runner",
      TOKEN,
    ],
    {
      stdout: "pipe",
      stderr: "inherit",
    },
  );
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let banner = "";
  while (!banner.includes("\n")) banner += new TextDecoder().decode((await reader.read()).value);
  const url = banner.match(/http:\/\/127\.0\.0\.1:\d+/)![0];
  const admin = async (path: string, body?: unknown) =>
    (
      await fetch(
        `${url}/__admin/${path}`,
        body
          ? { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } }
          : {},
      )
    ).json() as Promise<Record<string, unknown>>;
  const coordinator = { url };
  const mesh = await startMesh({
    transport: "inproc",
    config: {
      url: coordinator.url,
      concurrent: 1,
      runners: [{ name: "big", token: TOKEN, extra: `output_limit = ${limitKiB}` }],
    },
    traceUpdateIntervalMs: 3000,
  });
  Bun.gc(true);
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  const t0 = performance.now();
  // 1 MiB of 64-byte lines, printed `mib` times.
  const job = await admin("jobs", {
    runnerToken: TOKEN,
    spec: {
      gitStrategy: "none",
      timeoutS: 3600,
      script: [
        `line=$(printf '%063d' 0 | tr 0 x); block=$(for i in $(seq 16384); do echo "$line"; done); for i in $(seq ${mib}); do printf '%s\\n' "$block"; done`,
      ],
    },
  });
  // The list view leaves the log text out (the detailed one would ship 1 GiB per poll).
  const view = async () =>
    ((await (await fetch(`${url}/__admin/jobs`)).json()) as Record<string, unknown>[]).find(
      (j) => j.id === job.id,
    )!;
  let done = await view();
  while (!["success", "failed", "canceled"].includes(String(done.status))) {
    await Bun.sleep(500);
    done = await view();
  }
  const secs = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  rows.push(
    `${label}: ${mib} MiB printed in ${secs.toFixed(1)} s (${(mib / secs).toFixed(0)} MiB/s), status ${done.status}${done.failureReason ? ` (${done.failureReason})` : ""}, ` +
      `GitLab holds ${(Number(done.traceSize) / 1048576).toFixed(1)} MiB (checksum ${(done.final as { checksumMatches?: boolean } | undefined)?.checksumMatches ? "ok" : "MISMATCH"}); ` +
      `RSS before ${(before / 1048576).toFixed(0)} MiB, peak ${(peak / 1048576).toFixed(0)} MiB`,
  );
  await mesh.stop();
  proc.kill();
  await proc.exited;
}
console.log(rows.join("\n"));
process.exit(0);
