// Faults across process boundaries, over a real nats-server: each tier is its own process, and
// failpoints (RUNMESH_FAILPOINT) or SIGKILL stop one at an exact moment.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Coordinator, type CoordinatorJob, startCoordinator } from "../coordinator/coordinator.ts";
import { type NatsServer, startNatsServer } from "../infra/nats-server.ts";
import { configToml } from "./mesh-harness.ts";
import { type MeshProcess, spawnRunmesh } from "./processes.ts";
import { executionsOf, runningPuts } from "./run-count.ts";

const TOKEN = "glrt-faults-runner-0123456789";
let nats: NatsServer;
let coordinator: Coordinator;
let procs: MeshProcess[] = [];
let configPath: string;
/** Each job's script appends `run` to a file here, outside every build directory. */
let marks: string;

afterEach(async () => {
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
  procs = [];
  await coordinator?.stop();
  await nats?.stop();
});

/** A fresh nats-server (so no stream or bucket outlives its test), coordinator and config. */
async function setup(mesh: Record<string, string> = {}, ackTimeoutMs = 60_000) {
  nats = await startNatsServer();
  coordinator = await startCoordinator({ longPollMs: 2000, traceUpdateIntervalS: 1, ackTimeoutMs });
  coordinator.registerRunner(TOKEN);
  const dir = mkdtempSync(join(tmpdir(), "runmesh-faults-"));
  marks = mkdtempSync(join(tmpdir(), "runmesh-faults-runs-"));
  configPath = join(dir, "config.toml");
  writeFileSync(
    configPath,
    configToml({
      url: coordinator.url,
      concurrent: 2,
      runners: [{ name: "faulty", token: TOKEN }],
      mesh: { nats_url: nats.url, heartbeat_interval: "1s", worker_lost_after: "5s", ...mesh },
    }),
  );
}

function start(
  mode: "poller" | "scheduler" | "worker",
  env: Record<string, string> = {},
  extra: string[] = [],
) {
  const p = spawnRunmesh([mode, "--config", configPath, ...extra], { env });
  procs.push(p);
  return p;
}

/** Resolves once a jobs/request is parked in a long poll at the coordinator. */
function longPollHeld(timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no long poll held within ${timeoutMs} ms`)), timeoutMs);
    coordinator.events.once("longPollHeld", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A mesh whose only worker dies while the poller is parked in a long poll on its slot lease. */
async function startWithVanishedWorker(): Promise<void> {
  start("scheduler");
  const vanishing = start("worker", {}, ["--id", "vanishing"]);
  start("poller");
  await vanishing.waitFor("worker started");
  await longPollHeld();
  vanishing.kill("SIGKILL");
}

const job = (script: string[]) => coordinator.enqueueJob(TOKEN, { script, gitStrategy: "none" });
/** A job whose every execution leaves a line in `marks`. */
const countedJob = (line: string) => job([`echo run >> ${marks}/runs`, `echo ${line}`]);

/** The job ran exactly once: one execution, one PUT running, no PATCH resending stored bytes. */
function expectRanOnce(done: CoordinatorJob): void {
  expect(executionsOf(marks)).toBe(1);
  expect(runningPuts(done)).toBe(1);
  expect(done.rewinds).toEqual([]);
}

describe("faults over NATS with one process per tier", () => {
  test("a worker killed mid-job gets its job failed at GitLab as runner_system_failure within 10 s", async () => {
    await setup();
    start("scheduler");
    const worker = start("worker", {}, ["--id", "doomed"]);
    start("poller");
    await worker.waitFor("worker started");
    const j = job(["echo started; for i in $(seq 100); do echo working $i; sleep 0.2; done"]);
    await coordinator.waitForJob(j.id, (x) => x.traceText.includes("working 3"), 20_000);
    worker.kill("SIGKILL");
    const killedAt = Date.now();
    const done = await coordinator.waitForFinal(j.id, 10_000);
    const took = Date.now() - killedAt;
    expect(done.status).toBe("failed");
    expect(done.failureReason).toBe("runner_system_failure");
    expect(done.traceText).toContain("ERROR:");
    expect(done.traceText).toContain('"doomed" was lost');
    // The notice lands after what the worker had already sent, not over it.
    expect(done.traceText.indexOf("working 3")).toBeLessThan(done.traceText.indexOf("ERROR:"));
    expect(took).toBeLessThan(10_000);
    // Whether the scheduler can claim the whole log's checksum depends on whether the worker
    // patched after its last heartbeat; either way the protocol audit checks any claim it makes.
  });

  test("a lost worker's job is failed with a final PUT whose checksum covers the worker's bytes and the notice", async () => {
    await setup();
    start("scheduler");
    const worker = start("worker", {}, ["--id", "quiet-then-dead"]);
    start("poller");
    await worker.waitFor("worker started");
    // Prints once, then stays silent: no PATCH after the heartbeats that follow.
    const j = job(["echo started", "sleep 60"]);
    await coordinator.waitForJob(j.id, (x) => x.traceText.includes("started"), 20_000);
    await Bun.sleep(2500); // heartbeats (1 s) report the offset GitLab holds and its CRC-32
    worker.kill("SIGKILL");
    const done = await coordinator.waitForFinal(j.id, 15_000);
    expect(done.failureReason).toBe("runner_system_failure");
    expect(done.traceText).toContain('"quiet-then-dead" was lost');
    expect(done.final?.checksum).toBe(done.final?.expectedChecksum);
    expect(done.final?.bytesize).toBe(done.traceSize);
  });

  test("a worker killed after claiming, before acknowledging, has its job re-dispatched and acknowledged once", async () => {
    await setup();
    start("scheduler");
    const first = start("worker", { RUNMESH_FAILPOINT: "worker.after_claim" }, ["--id", "claims-then-dies"]);
    start("poller");
    await first.waitFor("worker started");
    const j = countedJob("ran once");
    expect(await first.exited).toBe(86);
    const second = start("worker", {}, ["--id", "takes-over"]);
    await second.waitFor("worker started");
    const done = await coordinator.waitForFinal(j.id, 30_000);
    expect(done.status).toBe("success");
    expectRanOnce(done);
  });

  test("a worker killed right after acknowledging is never acknowledged twice: its job fails as a system failure", async () => {
    await setup();
    start("scheduler");
    const first = start("worker", { RUNMESH_FAILPOINT: "worker.after_ack" }, ["--id", "acks-then-dies"]);
    start("poller");
    await first.waitFor("worker started");
    const j = countedJob("never runs");
    expect(await first.exited).toBe(86);
    start("worker", {}, ["--id", "bystander"]);
    const done = await coordinator.waitForFinal(j.id, 20_000);
    expect(done.status).toBe("failed");
    expect(done.failureReason).toBe("runner_system_failure");
    expect(runningPuts(done)).toBe(1);
    expect(executionsOf(marks)).toBe(0);
  });

  test("a scheduler that dies holding an accepted job leaves it to its successor; the job runs once", async () => {
    await setup();
    const doomed = start("scheduler", { RUNMESH_FAILPOINT: "scheduler.before_dispatch" });
    const worker = start("worker", {}, ["--id", "steady"]);
    start("poller");
    await worker.waitFor("worker started");
    const j = countedJob("survived a scheduler crash");
    expect(await doomed.exited).toBe(86);
    const successor = start("scheduler");
    const done = await coordinator.waitForFinal(j.id, 40_000).catch((e) => {
      console.error(successor.lines.slice(-40).join("\n"));
      throw e;
    });
    expect(done.status).toBe("success");
    expectRanOnce(done);
    // And the restarted scheduler's books are right: the next job runs too.
    const next = job(["echo next"]);
    expect((await coordinator.waitForFinal(next.id, 30_000)).status).toBe("success");
  });

  test("a poller that dies after handing a job over leaves exactly one run of it", async () => {
    await setup();
    start("scheduler");
    const worker = start("worker", {}, ["--id", "steady"]);
    const doomed = start("poller", { RUNMESH_FAILPOINT: "poller.after_handoff" });
    await worker.waitFor("worker started");
    const j = countedJob("handed over");
    expect(await doomed.exited).toBe(86);
    start("poller");
    const done = await coordinator.waitForFinal(j.id, 30_000);
    expect(done.status).toBe("success");
    expectRanOnce(done);
  });

  test("a poller that dies between GitLab's 201 and the handoff: GitLab drops the unacknowledged job and its retry runs once", async () => {
    // GitLab's RetryWaitingJobService: no ack in time → runner_provisioning_timeout, auto-retried
    // as a new job (new id, new token). The lost hand-out itself never runs.
    await setup({}, 4000);
    start("scheduler");
    const worker = start("worker", {}, ["--id", "steady"]);
    const doomed = start("poller", { RUNMESH_FAILPOINT: "poller.after_201" });
    await worker.waitFor("worker started");
    const j = countedJob("second chance");
    expect(await doomed.exited).toBe(86);
    start("poller");
    const dropped = await coordinator.waitForFinal(j.id, 20_000);
    expect(dropped).toMatchObject({ status: "failed", failureReason: "runner_provisioning_timeout" });
    expect(runningPuts(dropped)).toBe(0);
    const done = await coordinator.waitForFinal(dropped.retriedAs!, 40_000);
    expect(done.status).toBe("success");
    expect(done.token).not.toBe(j.token);
    expectRanOnce(done);
  });

  test("an accepted job no worker takes is kept alive with PUT state=pending, then runs when a worker comes", async () => {
    await setup({ pending_keepalive_interval: "1s", dispatch_timeout: "20s" });
    await startWithVanishedWorker();
    const j = countedJob("finally taken");
    await coordinator.waitForJob(j.id, (x) => x.keepalives >= 2, 20_000);
    start("worker", {}, ["--id", "latecomer"]);
    const done = await coordinator.waitForFinal(j.id, 30_000);
    expect(done.status).toBe("success");
    expectRanOnce(done);
  });

  test("an accepted job no worker takes within dispatch_timeout is failed with a line in its log saying why", async () => {
    await setup({ pending_keepalive_interval: "1s", dispatch_timeout: "4s" });
    await startWithVanishedWorker();
    const j = job(["echo never taken"]);
    const done = await coordinator.waitForFinal(j.id, 30_000);
    expect(done.status).toBe("failed");
    expect(done.failureReason).toBe("runner_system_failure");
    expect(done.keepalives).toBeGreaterThanOrEqual(1);
    expect(done.traceText).toContain("no executor worker took this job within 4 s");
    expect(done.traceText).not.toContain("never taken\n");
  });
});
