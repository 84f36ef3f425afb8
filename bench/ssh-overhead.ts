// Per-job overhead of the ssh executor against the shell executor, in the same run: trivial jobs
// (`true`, GIT_STRATEGY=none) through the stage machine, one at a time, against a private OpenSSH
// sshd on a loopback port (tests/infra/sshd.ts), with connection reuse (the provider's one
// connector: one connection per host for every job) and without (a new connection per job, as
// GitLab Runner's ssh executor makes).
//
//   node_modules/.bin/bun bench/ssh-overhead.ts [jobs per variant, default 20]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Executor } from "../libs/executors/executor.ts";
import type { ExecutorProvider, RunnerEntrySettings } from "../libs/executors/provider.ts";
import { shellProvider } from "../libs/executors/shell/provider.ts";
import { sshProvider } from "../libs/executors/ssh/provider.ts";
import { planJob } from "../libs/job/job-plan.ts";
import { runJob } from "../libs/job/run-job.ts";
import { dockerPayload, script } from "../tests/infra/docker-job.ts";
import { sshdMissing, startSshd } from "../tests/infra/sshd.ts";

const N = Number(process.argv[2] ?? "20");
const missing = sshdMissing();
if (missing) {
  console.error(`needs sshd: ${missing}`);
  process.exit(1);
}
const dir = mkdtempSync(join(tmpdir(), "runmesh-ssh-bench-"));
const sshd = await startSshd();
const sink = { runner: () => {}, output: () => {}, endOutput: () => {} };
const job = (id: number) => dockerPayload({ steps: script(["true"]) }, id);
const runnerAs = (user: string): RunnerEntrySettings => ({
  name: "ssh-1",
  short_token: "abcdefghi",
  ssh: {
    host: sshd.host,
    port: String(sshd.port),
    user,
    identity_file: sshd.identityFile,
    known_hosts_file: sshd.knownHostsFile,
    disable_strict_host_key_checking: false,
  },
});
let runner = runnerAs("root");

async function timedJob(id: number, provider: ExecutorProvider, executor: Executor, executorName: string) {
  const settings = { name: "b", short_token: "abcdefghi", executor: executorName };
  const plan = planJob(job(id), settings, {
    executor: provider,
    layout: provider.layout({
      // The unprivileged user builds under its home (its default); root under this run's dir.
      buildsDir:
        executorName === "shell" || runner.ssh?.user === "root" ? join(dir, executorName) : undefined,
      workerBuildsDir: join(dir, "w"),
      workerCacheDir: join(dir, "c"),
      runner,
    }),
  });
  const t0 = performance.now();
  const r = await runJob({
    plan,
    executor,
    log: sink,
    cancelSignal: new AbortController().signal,
    abortSignal: new AbortController().signal,
    systemId: "s_0123456789ab",
    version: "bench",
    revision: "bench",
  });
  if (r.state !== "success") throw new Error(`${executorName} job failed: ${r.message}`);
  return performance.now() - t0;
}

const reused = sshProvider();
const shellJob = (id: number) => timedJob(id, shellProvider, shellProvider.create({ worker: {} }), "shell");
const sshReused = (id: number) => timedJob(id, reused, reused.create({ worker: {}, runner }), "ssh");
const sshFresh = (id: number) => {
  // A provider of its own: its connector dials anew, and its connection is dropped after the job.
  const fresh = sshProvider();
  return timedJob(id, fresh, fresh.create({ worker: {}, runner }), "ssh");
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;

// Warm-up: ssh2 import, sshd's first fork, page cache.
await shellJob(1);
await sshReused(1);
await sshFresh(1);
const shell: number[] = [];
const withReuse: number[] = [];
const withoutReuse: number[] = [];
// Interleaved, so machine load hits every variant alike.
for (let i = 0; i < N; i++) {
  shell.push(await shellJob(100 + i));
  withReuse.push(await sshReused(200 + i));
  withoutReuse.push(await sshFresh(300 + i));
}
// The same ssh variants as a user whose login profile is Debian's skeleton (no root .bashrc).
runner = runnerAs(sshd.user);
const userReuse: number[] = [];
const userFresh: number[] = [];
await sshReused(2);
for (let i = 0; i < N; i++) {
  userReuse.push(await sshReused(400 + i));
  userFresh.push(await sshFresh(500 + i));
}
await sshd.stop();
rmSync(dir, { recursive: true, force: true });

const f = (x: number) => `${x.toFixed(0)} ms`;
console.log(`jobs per variant: ${N} (trivial \`true\`, GIT_STRATEGY=none, 4 stages each)`);
console.log(`shell executor:            median ${f(median(shell))}, p90 ${f(p90(shell))}`);
console.log(`ssh, connection reused:    median ${f(median(withReuse))}, p90 ${f(p90(withReuse))}`);
console.log(`ssh, connection per job:   median ${f(median(withoutReuse))}, p90 ${f(p90(withoutReuse))}`);
console.log(
  `ssh overhead per job:      ${f(median(withReuse) - median(shell))} (reused), ${f(median(withoutReuse) - median(shell))} (per job)`,
);
console.log(
  `ssh as ${sshd.user}: reused median ${f(median(userReuse))}, per job median ${f(median(userFresh))}; reuse saves ${f(median(userFresh) - median(userReuse))} per job`,
);
process.exit(0);
