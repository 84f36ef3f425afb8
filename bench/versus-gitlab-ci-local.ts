// runmesh against gitlab-ci-local on the same trivial jobs, in the same run (issue 16).
// Usage: bun bench/versus-gitlab-ci-local.ts [jobs=100] [concurrent=8] [rounds=3] [--no-readme]
//
// Each round runs, one after the other and on the same `true` jobs: gitlab-ci-local (from npm,
// under Bun, its shell executor, no API), then runmesh as real processes against the strict test
// coordinator (which runs in this process, as GitLab would run elsewhere): `runmesh run` (one
// process, in-process bus), and the tiers over a private nats-server with 1 and with 3 workers.
// Rounds are interleaved so a noisy moment hits every contestant; the table gives medians and
// the spread across rounds. Pickup (job enqueued → `PUT running`, long poll held) is measured on
// one job at a time after the throughput runs. Jobs get an empty HOME (root's profile here runs
// `pyenv init` in every login shell, which would measure the machine, not the runners).
//
// gitlab-ci-local and the chart renderer are bench-only: installed on first use under
// bench/.cache (npm), never by the test set-up. gitlab-ci-local needs rsync (Debian package).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Coordinator, startCoordinator } from "../tests/coordinator/coordinator.ts";
import { configToml } from "../tests/e2e/mesh-harness.ts";
import { BUN, type MeshProcess, spawnRunmesh } from "../tests/e2e/processes.ts";
import { startNatsServer } from "../tests/infra/nats-server.ts";
import { percentile, whenRunning } from "./mesh-bench.ts";
import { renderBarChart } from "./versus-chart.ts";

const GCL_VERSION = "4.75.1";
const RESVG_VERSION = "2.6.2";
const CACHE = join(import.meta.dir, ".cache");
const TOKEN = "glrt-versus-runner-0123456789";

const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const JOBS = Number(args[0] ?? 100);
const CONCURRENT = Number(args[1] ?? 8);
const ROUNDS = Number(args[2] ?? 3);
const PICKUP_SAMPLES = 30;
const CHECK_INTERVAL_S = 3;
const writeReadme = !process.argv.includes("--no-readme");

type Contestant = "gitlab-ci-local" | "runmesh run" | "runmesh NATS, 1 worker" | "runmesh NATS, 3 workers";
const CONTESTANTS: Contestant[] = [
  "gitlab-ci-local",
  "runmesh run",
  "runmesh NATS, 1 worker",
  "runmesh NATS, 3 workers",
];

interface Round {
  seconds: number;
  /** Peak RSS (VmHWM), summed over the contestant's own processes, MB. */
  peakRssMb: number;
}

/** npm-installs a bench-only package under bench/.cache once; returns its directory. */
function benchPackage(name: string, version: string): string {
  const dir = join(CACHE, `${name.replace("/", "+")}@${version}`);
  const pkg = join(dir, "node_modules", name);
  if (!existsSync(join(pkg, "package.json"))) {
    mkdirSync(dir, { recursive: true });
    const r = spawnSync(
      "npm",
      ["install", "--no-audit", "--no-fund", "--prefix", dir, `${name}@${version}`],
      {
        stdio: "inherit",
      },
    );
    if (r.status !== 0) throw new Error(`npm install ${name}@${version} failed (exit ${r.status})`);
  }
  return pkg;
}

function ensureRsync(): void {
  if (spawnSync("sh", ["-c", "command -v rsync"]).status === 0) return;
  const r = spawnSync("apt-get", ["install", "-y", "-q", "rsync"], { stdio: "inherit" });
  if (r.status !== 0)
    throw new Error("gitlab-ci-local copies the project with rsync: install it (apt-get install rsync)");
}

/** VmHWM of a live process in MB, 0 once it is gone. */
function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Keeps the highest VmHWM seen per pid until stopped (VmHWM vanishes with the process). */
function watchPeaks(pids: () => number[]): () => number {
  const peaks = new Map<number, number>();
  const sample = () => {
    for (const pid of pids()) peaks.set(pid, Math.max(peaks.get(pid) ?? 0, peakRssMb(pid)));
  };
  const timer = setInterval(sample, 25);
  return () => {
    sample();
    clearInterval(timer);
    return [...peaks.values()].reduce((a, b) => a + b, 0);
  };
}

function emptyHome(): string {
  return mkdtempSync(join(tmpdir(), "versus-home-"));
}

/** A git project with JOBS trivial jobs in one stage, as gitlab-ci-local reads it. */
function gclProject(): string {
  const dir = mkdtempSync(join(tmpdir(), "versus-gcl-"));
  const yml = Array.from({ length: JOBS }, (_, i) => `job${i + 1}:\n  script: ["true"]\n`).join("");
  writeFileSync(join(dir, ".gitlab-ci.yml"), yml);
  const git = (...a: string[]) =>
    spawnSync("git", a, { cwd: dir, env: { ...process.env, HOME: emptyHome() } });
  git("init", "-q");
  git("remote", "add", "origin", "https://gitlab.example.com/bench/versus.git");
  git("add", ".");
  git("-c", "user.email=bench@example.com", "-c", "user.name=bench", "commit", "-qm", "versus");
  return dir;
}

async function runGitlabCiLocal(gclMain: string): Promise<Round> {
  const project = gclProject();
  const t0 = performance.now();
  const proc = Bun.spawn([BUN, gclMain, "--concurrency", String(CONCURRENT)], {
    cwd: project,
    env: { ...process.env, HOME: emptyHome() },
    stdout: "pipe",
    stderr: "pipe",
  });
  const stop = watchPeaks(() => [proc.pid]);
  const out = await new Response(proc.stdout).text();
  const code = await proc.exited;
  const seconds = (performance.now() - t0) / 1000;
  const peak = stop();
  const passed = out.split("\n").filter((l) => l.includes("PASS")).length;
  if (code !== 0 || passed !== JOBS)
    throw new Error(`gitlab-ci-local: exit ${code}, ${passed}/${JOBS} passed:\n${out.slice(-2000)}`);
  return { seconds, peakRssMb: peak };
}

interface RunmeshSetup {
  coordinator: Coordinator;
  procs: MeshProcess[];
  stop(): Promise<void>;
}

async function startRunmesh(mode: Contestant): Promise<RunmeshSetup> {
  const coordinator = await startCoordinator({ longPollMs: 50_000, traceUpdateIntervalS: 60 });
  coordinator.registerRunner(TOKEN);
  const dir = mkdtempSync(join(tmpdir(), "versus-runmesh-"));
  const config = join(dir, "config.toml");
  writeFileSync(
    config,
    configToml({
      url: coordinator.url,
      concurrent: CONCURRENT,
      checkInterval: CHECK_INTERVAL_S,
      // The shipped defaults, not the test harness's fast 200 ms heartbeat.
      mesh: { heartbeat_interval: "1s", worker_lost_after: "5s" },
      runners: [{ name: "versus", token: TOKEN, requestConcurrency: Math.min(4, CONCURRENT) }],
    }),
  );
  const env = { HOME: emptyHome(), RUNMESH_LOG_LEVEL: "warn" };
  const procs: MeshProcess[] = [];
  let nats: Awaited<ReturnType<typeof startNatsServer>> | undefined;
  if (mode === "runmesh run") {
    procs.push(spawnRunmesh(["run", "--config", config], { env: { ...env, RUNMESH_LOG_LEVEL: "info" } }));
  } else {
    nats = await startNatsServer();
    const workers = mode === "runmesh NATS, 1 worker" ? 1 : 3;
    const common = ["--config", config, "--nats", nats.url];
    const info = { ...env, RUNMESH_LOG_LEVEL: "info" };
    procs.push(spawnRunmesh(["scheduler", ...common], { env: info }));
    for (let i = 0; i < workers; i++) {
      const slots = String(Math.ceil(CONCURRENT / workers));
      procs.push(spawnRunmesh(["worker", ...common, "--id", `w${i}`, "--slots", slots], { env: info }));
    }
    procs.push(spawnRunmesh(["poller", ...common], { env: info }));
  }
  await Promise.all(procs.map((p) => p.waitFor("runmesh ready", 60_000)));
  return {
    coordinator,
    procs,
    async stop() {
      for (const p of procs) p.kill("SIGKILL");
      await Promise.all(procs.map((p) => p.exited));
      await coordinator.stop();
      await nats?.stop();
    },
  };
}

async function runRunmesh(mode: Contestant): Promise<Round> {
  const setup = await startRunmesh(mode);
  try {
    // A running runner, as it is between jobs: its lanes start spread over check_interval
    // (staggerOffsetMs), so jobs enqueued right after start would find some lanes not yet polling.
    // gitlab-ci-local has no such state; its own start-up is inside its figure.
    await Bun.sleep(CHECK_INTERVAL_S * 1000 + 300);
    const stop = watchPeaks(() => setup.procs.map((p) => p.proc.pid));
    const t0 = performance.now();
    const ids = Array.from(
      { length: JOBS },
      () => setup.coordinator.enqueueJob(TOKEN, { script: ["true"], gitStrategy: "none" }).id,
    );
    const done = await Promise.all(ids.map((id) => setup.coordinator.waitForFinal(id, 600_000)));
    const seconds = (performance.now() - t0) / 1000;
    const failed = done.filter((d) => d.status !== "success");
    if (failed.length)
      throw new Error(
        `${mode}: ${failed.length}/${JOBS} jobs did not succeed; the first one's trace:\n${failed[0]!.traceText}`,
      );
    return { seconds, peakRssMb: stop() };
  } finally {
    await setup.stop();
  }
}

/** Pickup latency, one job at a time: enqueue → the coordinator sees `PUT running`. */
async function pickup(mode: Contestant): Promise<number[]> {
  const setup = await startRunmesh(mode);
  try {
    await Bun.sleep(300);
    const lat: number[] = [];
    // The first few jobs meet lanes still spreading over check_interval and cold connections.
    const warmUp = 3;
    for (let i = 0; i < PICKUP_SAMPLES + warmUp; i++) {
      const t0 = performance.now();
      const job = setup.coordinator.enqueueJob(TOKEN, { script: ["true"], gitStrategy: "none" });
      const running = whenRunning(setup.coordinator, job.id);
      const took = (await running) - t0;
      if (i >= warmUp) lat.push(took);
      await setup.coordinator.waitForFinal(job.id, 60_000);
      await Bun.sleep(50); // the poller is back in its long poll
    }
    return lat.sort((a, b) => a - b);
  } finally {
    await setup.stop();
  }
}

/** A fixed CPU-bound loop, timed before each round: its spread is the machine's noise. */
function calibrate(): number {
  const t0 = performance.now();
  let x = 0;
  for (let i = 0; i < 30_000_000; i++) x = (x * 31 + i) % 1_000_003;
  if (x < 0) console.log(x);
  return performance.now() - t0;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

ensureRsync();
const gclMain = join(benchPackage("gitlab-ci-local", GCL_VERSION), "dist", "index.js");
const rounds = new Map<Contestant, Round[]>(CONTESTANTS.map((c) => [c, []]));
const calibration: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  for (const c of CONTESTANTS) {
    calibration.push(calibrate());
    const round = c === "gitlab-ci-local" ? await runGitlabCiLocal(gclMain) : await runRunmesh(c);
    rounds.get(c)!.push(round);
    console.error(
      `round ${r + 1}/${ROUNDS} ${c}: ${(JOBS / round.seconds).toFixed(1)} jobs/s, peak RSS ${round.peakRssMb.toFixed(0)} MB`,
    );
  }
}
const pickups = new Map<Contestant, number[]>();
for (const c of CONTESTANTS.slice(1)) pickups.set(c, await pickup(c));

const gclRate = JOBS / median(rounds.get("gitlab-ci-local")!.map((r) => r.seconds));
const rows = CONTESTANTS.map((c) => {
  const rs = rounds.get(c)!;
  const rates = rs.map((r) => JOBS / r.seconds);
  const rate = JOBS / median(rs.map((r) => r.seconds));
  const lat = pickups.get(c);
  return {
    contestant: c,
    rate,
    spread: `${Math.min(...rates).toFixed(1)}–${Math.max(...rates).toFixed(1)}`,
    ratio: rate / gclRate,
    // Slot time one job holds: wall time × concurrency / jobs.
    perJobMs: (1000 * CONCURRENT) / rate,
    pickup: lat
      ? `${percentile(lat, 50).toFixed(1)} / ${percentile(lat, 95).toFixed(1)} / ${percentile(lat, 99).toFixed(1)} ms`
      : "— (no API)",
    rss: median(rs.map((r) => r.peakRssMb)),
  };
});
const noise = `${Math.min(...calibration).toFixed(0)}–${Math.max(...calibration).toFixed(0)} ms (median ${median(calibration).toFixed(0)} ms)`;
const table = [
  `${JOBS} trivial \`true\` jobs, concurrent = ${CONCURRENT}, ${ROUNDS} interleaved rounds (medians), empty HOME; machine noise: a fixed CPU loop took ${noise} across rounds. Pickup is one job at a time, ${PICKUP_SAMPLES} samples after 3 warm-up jobs. \`bun bench/versus-gitlab-ci-local.ts ${JOBS} ${CONCURRENT} ${ROUNDS}\`.`,
  "",
  "| runner | jobs/s (median) | spread over rounds | × gitlab-ci-local | slot time per job | pickup p50 / p95 / p99 | peak RSS (sum of its processes) |",
  "|---|---|---|---|---|---|---|",
  ...rows.map(
    (r) =>
      `| ${r.contestant} | ${r.rate.toFixed(1)} | ${r.spread} | ${r.ratio.toFixed(2)} | ${r.perJobMs.toFixed(0)} ms | ${r.pickup} | ${r.rss.toFixed(0)} MB |`,
  ),
].join("\n");
console.log(table);

if (writeReadme) {
  const resvg = benchPackage("@resvg/resvg-js", RESVG_VERSION);
  const png = join(import.meta.dir, "charts", "versus-gitlab-ci-local.png");
  mkdirSync(join(import.meta.dir, "charts"), { recursive: true });
  await renderBarChart(resvg, png, {
    title: `${JOBS} trivial jobs, concurrent ${CONCURRENT}: jobs/s (median of ${ROUNDS})`,
    bars: rows.map((r) => ({ label: r.contestant, value: r.rate })),
  });
  const readmePath = join(import.meta.dir, "..", "README.md");
  const readme = readFileSync(readmePath, "utf8");
  const start = "<!-- versus-gitlab-ci-local:start -->";
  const end = "<!-- versus-gitlab-ci-local:end -->";
  const block = `${start}\n${table}\n\n![jobs/s against gitlab-ci-local](bench/charts/versus-gitlab-ci-local.png)\n${end}`;
  const i = readme.indexOf(start);
  const j = readme.indexOf(end);
  if (i < 0 || j < 0) throw new Error(`README.md has no ${start} … ${end} block to write the table into`);
  writeFileSync(readmePath, readme.slice(0, i) + block + readme.slice(j + end.length));
  console.log(`wrote the table into README.md and ${png}`);
}
process.exit(0);
