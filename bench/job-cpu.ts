// Where a trivial job's CPU goes (issue 16): `runmesh run` as a real process against the test
// coordinator, N trivial `true` jobs at concurrent = 8, then the CPU time each side spent per
// job, read from /proc: the runmesh process itself, the shells it started (its waited-for
// children), and this process (the coordinator). CPU time, unlike wall time, barely moves with
// the machine's load, so before/after figures compare across runs. Jobs get an empty HOME.
// Usage: bun bench/job-cpu.ts [jobs=200] [--nats [--workers=N]] [--profile]
//   --nats runs nats-server, scheduler, N workers (8 slots between them) and poller as separate processes and
//   prints each one's CPU per job.
//   --profile also runs runmesh under Bun's sampling profiler and prints the samples per source
//   file and per function (the profile's markdown is kept in the printed directory).
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCoordinator } from "../tests/coordinator/coordinator.ts";
import { configToml } from "../tests/e2e/mesh-harness.ts";
import { BUN, RUNMESH_MAIN } from "../tests/e2e/processes.ts";
import { freePort, startNatsServer } from "../tests/infra/nats-server.ts";

const TOKEN = "glrt-job-cpu-runner-0123456789";
const JOBS = Number(process.argv.slice(2).find((a) => !a.startsWith("--")) ?? 200);
const profile = process.argv.includes("--profile");
const overNats = process.argv.includes("--nats");
const workersArg = process.argv.find((a) => a.startsWith("--workers="));
const WORKERS = workersArg ? Number(workersArg.slice("--workers=".length)) : 1;

const coordinator = await startCoordinator({ longPollMs: 50_000, traceUpdateIntervalS: 60 });
coordinator.registerRunner(TOKEN);
const dir = mkdtempSync(join(tmpdir(), "runmesh-job-cpu-"));
const config = join(dir, "config.toml");
writeFileSync(
  config,
  configToml({
    url: coordinator.url,
    concurrent: 8,
    checkInterval: 3,
    mesh: { heartbeat_interval: "1s", worker_lost_after: "5s" },
    runners: [{ name: "job-cpu", token: TOKEN, requestConcurrency: 4 }],
  }),
);
const env = {
  ...process.env,
  HOME: mkdtempSync(join(tmpdir(), "job-cpu-home-")),
  RUNMESH_LOG_LEVEL: "warn",
};
let monitorPort: number | undefined;
/** Messages nats-server received and sent so far (its /varz), over NATS only. */
async function natsMessages(): Promise<{ in: number; out: number } | undefined> {
  if (!monitorPort) return undefined;
  const v = (await (await fetch(`http://127.0.0.1:${monitorPort}/varz`)).json()) as {
    in_msgs: number;
    out_msgs: number;
  };
  return { in: v.in_msgs, out: v.out_msgs };
}
/** Each measured process: `runmesh run`, or nats-server and the tiers as separate processes. */
const procs: { name: string; pid: number; stop(): Promise<unknown> }[] = [];
const runmesh = (name: string, args: string[]) => {
  const proc = Bun.spawn(
    [BUN, ...(profile ? ["--cpu-prof-md", `--cpu-prof-dir=${join(dir, name)}`] : []), RUNMESH_MAIN, ...args],
    { env, stdout: "ignore", stderr: "ignore" },
  );
  procs.push({
    name,
    pid: proc.pid,
    stop: () => {
      proc.kill(profile ? "SIGTERM" : "SIGKILL"); // SIGTERM lets the profiler write its file
      return proc.exited;
    },
  });
};
if (overNats) {
  monitorPort = await freePort();
  const nats = await startNatsServer({ monitorPort });
  procs.push({ name: "nats-server", pid: nats.pid, stop: () => nats.stop() });
  const common = ["--config", config, "--nats", nats.url];
  runmesh("scheduler", ["scheduler", ...common]);
  for (let i = 0; i < WORKERS; i++)
    runmesh(`worker${WORKERS > 1 ? i : ""}`, [
      "worker",
      ...common,
      "--id",
      `w${i}`,
      "--slots",
      String(Math.ceil(8 / WORKERS)),
    ]);
  runmesh("poller", ["poller", ...common]);
} else runmesh("runmesh", ["run", "--config", config]);
await Bun.sleep(overNats ? 6000 : 4000); // started, and its pollers parked in their long polls

/** utime+stime of the process (and its kernel share) and of its waited-for children, in ms (clock ticks of 10 ms). */
function cpuMs(pid: number): { self: number; sys: number; children: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  const tick = (i: number) => Number(fields[i]) * 10;
  return { self: tick(11) + tick(12), sys: tick(12), children: tick(13) + tick(14) };
}

const before = procs.map((p) => cpuMs(p.pid));
const msgsBefore = await natsMessages();
const mine = process.cpuUsage();
const t0 = performance.now();
const ids = Array.from(
  { length: JOBS },
  () => coordinator.enqueueJob(TOKEN, { script: ["true"], gitStrategy: "none" }).id,
);
const done = await Promise.all(ids.map((id) => coordinator.waitForFinal(id, 600_000)));
const seconds = (performance.now() - t0) / 1000;
const after = procs.map((p) => cpuMs(p.pid));
const msgsAfter = await natsMessages();
const coord = process.cpuUsage(mine);
const failed = done.filter((d) => d.status !== "success").length;
const per = (ms: number) => (ms / JOBS).toFixed(1);
const parts = procs.flatMap((p, i) => {
  const sys = after[i]!.sys - before[i]!.sys;
  const self = `${p.name} ${per(after[i]!.self - before[i]!.self)} ms${p.name === "nats-server" ? "" : ` (kernel ${per(sys)})`}`;
  const children = after[i]!.children - before[i]!.children;
  return children > 0 ? [self, `its shells ${per(children)} ms`] : [self];
});
const total =
  procs.reduce(
    (sum, _p, i) => sum + after[i]!.self - before[i]!.self + after[i]!.children - before[i]!.children,
    0,
  ) +
  (coord.user + coord.system) / 1000;
console.log(
  `${JOBS} jobs (${failed} failed) in ${seconds.toFixed(1)} s, ${(JOBS / seconds).toFixed(1)} jobs/s; CPU per job: ${parts.join(", ")}, coordinator ${per((coord.user + coord.system) / 1000)} ms; total ${per(total)} ms`,
);
if (msgsBefore && msgsAfter)
  console.log(
    `NATS messages per job (heartbeats included): ${((msgsAfter.in - msgsBefore.in) / JOBS).toFixed(1)} into nats-server, ${((msgsAfter.out - msgsBefore.out) / JOBS).toFixed(1)} out of it`,
  );
for (const p of procs.reverse()) await p.stop();
await coordinator.stop();

for (const p of profile ? procs.filter((p) => p.name !== "nats-server").reverse() : []) {
  const pdir = join(dir, p.name);
  const file = readdirSync(pdir).find((f) => f.startsWith("CPU") && f.endsWith(".md"));
  if (!file) throw new Error(`no profile written in ${pdir}`);
  // Samples, not the profile's time column: that one weighs samples by wall time, and a loaded
  // machine's scheduling gaps then land on whatever function was sampled last.
  const byFile = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let fn = "";
  let total = 0;
  for (const line of readFileSync(join(pdir, file), "utf8").split("\n")) {
    const head = /^### `(.*)`/.exec(line);
    if (head) fn = head[1]!;
    const m = /^`(.*)` \| Self: .* \| Samples: (\d+)/.exec(line);
    if (!m || !fn) continue;
    const where = m[1]!.startsWith("[") ? m[1]! : m[1]!.split(":")[0]!.replace(`${process.cwd()}/`, "");
    const n = Number(m[2]);
    total += n;
    byFile.set(where, (byFile.get(where) ?? 0) + n);
    byFunction.set(`${fn} (${where})`, (byFunction.get(`${fn} (${where})`) ?? 0) + n);
    fn = "";
  }
  const top = (m: Map<string, number>, k: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, n]) => `${((100 * n) / total).toFixed(1).padStart(5)}%  ${name}`)
      .join("\n");
  console.log(`\n${p.name}: self samples by file (${total} samples):\n${top(byFile, 15)}`);
  console.log(`\nself samples by function:\n${top(byFunction, 15)}\n\nprofile: ${join(pdir, file)}`);
}
process.exit(0);
