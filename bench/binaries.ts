// Size, start-up time and idle RSS of each compiled binary (`just build`, dist/): the per-tier
// binaries and the all-in-one. Each one runs as in production: poller, scheduler and worker over a
// real nats-server, the poller long-polling the test coordinator, the worker and the all-in-one
// with the docker executor configured (dockerode itself loads with the first docker job).
// Start-up is spawn → the "runmesh ready" log line; idle RSS is VmRSS 2 s later, split into
// RssAnon (JS heap, malloc, JIT code) and RssFile (pages of the binary that start-up touched:
// Bun's own code, its read-only data and the embedded bundle); medians of 3. The issue's ceilings
// (poller, scheduler, cache-signer ≤ 40 MB; worker, all-in-one ≤ 60 MB) are printed beside each
// figure, and the bench exits 1 when one is broken (never a timed assertion in the test suite).
// bench/import-cost.ts says what each import adds.
//
//   node_modules/.bin/bun scripts/build.ts && node_modules/.bin/bun bench/binaries.ts
//   node_modules/.bin/bun bench/binaries.ts worker=/tmp/old-worker …   (other binaries, same runs)
//   node_modules/.bin/bun bench/binaries.ts --only=all-in-one,poller    (those rows only, for an A/B)
//   node_modules/.bin/bun bench/binaries.ts --cold    (each binary dropped from the page cache first)
//
// File pages depend on the page cache as well as on the process: a binary just written by
// `bun build` is mapped in whatever pieces the write left, one read back from disk in readahead's,
// and the same binary has measured 4–5 MB apart in file pages between the two. The default
// (right after `just build`) is the higher; --cold reads each binary from disk as a freshly booted
// host does (`dd iflag=nocache count=0`). Compare binaries only within one mode, interleaved.
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { startCoordinator } from "../tests/coordinator/coordinator.ts";
import { spawnRunmesh } from "../tests/e2e/processes.ts";
import { startNatsServer } from "../tests/infra/nats-server.ts";

type Tier = "poller" | "scheduler" | "cache-signer" | "worker" | "all-in-one";

const RUNS = 3;
const IDLE_MS = 2000;
const ROOT = join(import.meta.dir, "..");
const CEILING_MB: Record<Tier, number> = {
  poller: 40,
  scheduler: 40,
  "cache-signer": 40,
  worker: 60,
  "all-in-one": 60,
};
const DEFAULT_BINARIES: Record<Tier, string> = {
  poller: join(ROOT, "dist", "runmesh-poller"),
  scheduler: join(ROOT, "dist", "runmesh-scheduler"),
  "cache-signer": join(ROOT, "dist", "runmesh-cache-signer"),
  worker: join(ROOT, "dist", "runmesh-worker"),
  "all-in-one": join(ROOT, "dist", "runmesh"),
};

interface Rss {
  total: number;
  anon: number;
  file: number;
}
function rssMb(pid: number): Rss {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const mb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)![1]) / 1024;
  return { total: mb("VmRSS"), anon: mb("RssAnon"), file: mb("RssFile") };
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const binaries: Partial<Record<Tier, string>> = { ...DEFAULT_BINARIES };
let only: string[] | undefined;
let cold = false;
for (const arg of process.argv.slice(2)) {
  if (arg === "--cold") {
    cold = true;
    continue;
  }
  if (arg.startsWith("--only=")) {
    only = arg.slice("--only=".length).split(",");
    continue;
  }
  const [tier, path] = arg.split("=") as [Tier, string];
  if (!(tier in binaries) || !path)
    throw new Error(`expected tier=path (${Object.keys(binaries)}), got ${arg}`);
  binaries[tier] = path;
}
if (only) {
  const unknown = only.filter((t) => !(t in DEFAULT_BINARIES));
  if (unknown.length) throw new Error(`--only: unknown tier ${unknown} (${Object.keys(DEFAULT_BINARIES)})`);
  for (const tier of Object.keys(binaries) as Tier[]) if (!only.includes(tier)) delete binaries[tier];
}
for (const [tier, path] of Object.entries(binaries))
  if (!existsSync(path)) throw new Error(`${tier}: ${path} does not exist; run \`just build\` first`);

const TOKEN = "glrt-bench-binaries-0123456789";
const nats = await startNatsServer();
const coordinator = await startCoordinator({ longPollMs: 30_000 });
coordinator.registerRunner(TOKEN);
const dir = mkdtempSync(join(tmpdir(), "runmesh-bench-bin-"));
const config = join(dir, "config.toml");
writeFileSync(
  config,
  [
    "concurrent = 2",
    "[mesh]",
    `data_dir = ${JSON.stringify(dir)}`,
    'worker_executors = ["shell", "docker"]',
    "[[runners]]",
    'name = "bench"',
    `url = ${JSON.stringify(coordinator.url)}`,
    `token = ${JSON.stringify(TOKEN)}`,
    'executor = "shell"',
  ].join("\n"),
);
const meshToml = join(dir, "mesh.toml");
writeFileSync(
  meshToml,
  `[mesh]\ndata_dir = ${JSON.stringify(dir)}\nworker_executors = ["shell", "docker"]\n`,
);

function argsFor(tier: Tier, run: number): string[] {
  switch (tier) {
    case "poller":
    case "scheduler":
    case "cache-signer":
      return ["--config", config, "--nats", nats.url];
    case "worker":
      return ["--config", meshToml, "--nats", nats.url, "--id", `bench-${run}`];
    case "all-in-one":
      return ["run", "--config", config];
  }
}

console.log(
  "| binary | size | start-up (median) | idle RSS (median) | anon / file | ceiling | runs (RSS MB) |\n|---|---|---|---|---|---|---|",
);
const over: string[] = [];
try {
  for (const tier of Object.keys(binaries) as Tier[]) {
    const path = binaries[tier]!;
    if (cold) await $`dd if=${path} iflag=nocache count=0 status=none`;
    const startup: number[] = [];
    const idle: Rss[] = [];
    for (let i = 0; i < RUNS; i++) {
      const started = performance.now();
      const p = spawnRunmesh(argsFor(tier, i), {
        binary: path,
        cwd: dir,
        env: { RUNMESH_LOG_LEVEL: "info" },
      });
      await p.waitFor("runmesh ready", 30_000);
      startup.push(performance.now() - started);
      await Bun.sleep(IDLE_MS);
      idle.push(rssMb(p.proc.pid));
      p.kill("SIGKILL");
      await p.exited;
    }
    const size = statSync(path).size / 1024 / 1024;
    const mid = [...idle].sort((a, b) => a.total - b.total)[Math.floor(idle.length / 2)]!;
    const rss = mid.total;
    if (rss > CEILING_MB[tier]) over.push(`${tier} ${rss.toFixed(1)} MB > ${CEILING_MB[tier]} MB`);
    console.log(
      `| ${tier} (${path.replace(`${ROOT}/`, "")}) | ${size.toFixed(1)} MiB | ${median(startup).toFixed(0)} ms | ${rss.toFixed(1)} MB | ${mid.anon.toFixed(1)} / ${mid.file.toFixed(1)} | ≤ ${CEILING_MB[tier]} MB${rss > CEILING_MB[tier] ? " **over**" : ""} | ${idle.map((x) => x.total.toFixed(1)).join(", ")} |`,
    );
  }
} finally {
  await coordinator.stop();
  await nats.stop();
}
if (over.length) {
  console.error(`idle RSS over the ceiling: ${over.join("; ")}`);
  process.exit(1);
}
