// Per-job overhead of the docker executor against the shell executor, in the same run: trivial
// jobs (`true`, GIT_STRATEGY=none, image present locally) through the stage machine, one at a
// time, on a private dockerd (tests/infra/dockerd.ts). Also the cost of loading dockerode, which
// a worker pays only once a docker job arrives.
//
//   node_modules/.bin/bun bench/docker-overhead.ts [jobs per executor, default 20]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shellProvider } from "../libs/executors/shell/provider.ts";
import { ShellExecutor } from "../libs/executors/shell/shell-executor.ts";
import { planJob } from "../libs/job/job-plan.ts";
import { runJob } from "../libs/job/run-job.ts";
import { BUSYBOX_IMAGE, DEBIAN_IMAGE, importBusybox, importDebian } from "../tests/infra/docker-images.ts";
import { dockerPayload, runDockerJob, script } from "../tests/infra/docker-job.ts";
import { engineAvailable, startDockerd } from "../tests/infra/dockerd.ts";

const N = Number(process.argv[2] ?? "20");
if (!engineAvailable) {
  console.error("needs root and Debian's docker.io (scripts/setup.sh)");
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), "runmesh-docker-bench-"));
const d = await startDockerd();
await importBusybox(d);
await importDebian(d);
const sink = { runner: () => {}, output: () => {}, endOutput: () => {} };
const job = (id: number) => dockerPayload({ steps: script(["true"]) }, id);

async function shellJob(id: number): Promise<number> {
  const settings = { name: "shell-1", short_token: "abcdefghi", executor: "shell" };
  const plan = planJob(job(id), settings, {
    executor: shellProvider,
    layout: shellProvider.layout({ workerBuildsDir: join(dir, "shell"), workerCacheDir: join(dir, "cache") }),
  });
  const t0 = performance.now();
  const r = await runJob({
    plan,
    executor: new ShellExecutor(),
    log: sink,
    cancelSignal: new AbortController().signal,
    abortSignal: new AbortController().signal,
    systemId: "s_0123456789ab",
    version: "bench",
    revision: "bench",
  });
  if (r.state !== "success") throw new Error(`shell job failed: ${r.message}`);
  return performance.now() - t0;
}

async function dockerJob(id: number, image: string): Promise<number> {
  const t0 = performance.now();
  const { result } = await runDockerJob(job(id), {
    docker: { host: d.host, image, helper_image: DEBIAN_IMAGE, pull_policy: "if-not-present" },
    workerId: "bench",
    workerBuildsDir: join(dir, "docker"),
  });
  if (result.state !== "success") throw new Error(`docker job failed: ${result.message}`);
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;

// Warm-up: first container start, dockerode import, page cache.
await dockerJob(1, BUSYBOX_IMAGE);
await shellJob(1);
const shell: number[] = [];
const busybox: number[] = [];
const debian: number[] = [];
// Interleaved, so machine load hits every executor alike.
for (let i = 0; i < N; i++) {
  shell.push(await shellJob(100 + i));
  busybox.push(await dockerJob(200 + i, BUSYBOX_IMAGE));
  debian.push(await dockerJob(300 + i, DEBIAN_IMAGE));
}
const containers = Number(
  d.cli(["ps", "-aq", "--filter", "label=runmesh.worker=bench"]).split("\n").filter(Boolean).length,
);

// dockerode's load cost in a fresh process: what a worker pays on its first docker job.
const probe = spawnSync(
  process.execPath,
  [
    "-e",
    `const rss0 = process.memoryUsage().rss; const t0 = performance.now();
     await import(${JSON.stringify(join(import.meta.dir, "../libs/executors/docker/engine.ts"))}).then((m) => m.connectEngine({ host: "unix:///nonexistent.sock" }));
     console.log(JSON.stringify({ ms: performance.now() - t0, mib: (process.memoryUsage().rss - rss0) / 1048576 }));`,
  ],
  { encoding: "utf8" },
);
const load = JSON.parse(probe.stdout.trim() || "{}") as { ms?: number; mib?: number };

await d.stop();
rmSync(dir, { recursive: true, force: true });

const f = (x: number) => `${x.toFixed(0)} ms`;
console.log(`jobs per executor: ${N} (trivial \`true\`, GIT_STRATEGY=none, image present)`);
console.log(`shell executor:           median ${f(median(shell))}, p90 ${f(p90(shell))}`);
console.log(`docker, busybox image:    median ${f(median(busybox))}, p90 ${f(p90(busybox))}`);
console.log(`docker, debian image:     median ${f(median(debian))}, p90 ${f(p90(debian))}`);
console.log(
  `docker overhead per job:  ${f(median(busybox) - median(shell))} (busybox), ${f(median(debian) - median(shell))} (debian)`,
);
console.log(`containers left behind:   ${containers}`);
console.log(`loading dockerode:        ${load.ms?.toFixed(0)} ms, +${load.mib?.toFixed(1)} MiB RSS`);
