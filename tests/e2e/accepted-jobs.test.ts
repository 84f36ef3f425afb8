// A jobs/request GitLab may answer with a job is never given up except at shutdown, and a job
// GitLab handed out always ends at GitLab: over a real nats-server, with the poller up before the
// scheduler, the lease lost in the middle of a held long poll, or the handoff refused.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { streamNameFor } from "../../libs/bus/store-names.ts";
import { createLogger } from "../../libs/log/logger.ts";
import { jobKeyOf } from "../../libs/messages/job-key.ts";
import { recordsKey, sealRecord } from "../../libs/messages/record-seal.ts";
import {
  ACCEPTED_JOBS_QUEUE,
  acceptedJobs,
  JOBS_BUCKET,
  jobRecordSchema,
} from "../../libs/messages/subjects.ts";
import { pollTargets } from "../../services/poller/main.ts";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { type NatsServer, startNatsServer } from "../infra/nats-server.ts";
import { configToml, type Mesh, startMesh } from "./mesh-harness.ts";
import { type MeshProcess, spawnRunmesh } from "./processes.ts";

const TOKEN = "glrt-handout-0123456789abcdef";
let nats: NatsServer | undefined;
let coordinator: Coordinator | undefined;
let procs: MeshProcess[] = [];
let mesh: Mesh | undefined;

afterEach(async () => {
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
  procs = [];
  await mesh?.stop();
  await coordinator?.stop();
  await nats?.stop();
  mesh = coordinator = nats = undefined;
});

function heldOnce(c: Coordinator, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no long poll held within ${timeoutMs} ms`)), timeoutMs);
    c.events.once("longPollHeld", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe("a job GitLab hands out is never lost", () => {
  test("poller up before the scheduler, lease lost during a held long poll: the request runs its course and its job runs once", async () => {
    nats = await startNatsServer();
    coordinator = await startCoordinator({ longPollMs: 6000, traceUpdateIntervalS: 1 });
    const c = coordinator;
    c.registerRunner(TOKEN);
    // Requests that runmesh closed before GitLab answered (Workhorse sees the client go).
    const cut: number[] = [];
    c.events.on("longPollReleased", (rec: { seq: number }, outcome: string) => {
      if (outcome === "gone") cut.push(rec.seq);
    });
    const path = join(mkdtempSync(join(tmpdir(), "runmesh-handout-")), "config.toml");
    writeFileSync(
      path,
      configToml({
        url: c.url,
        concurrent: 2,
        runners: [{ name: "handout", token: TOKEN }],
        // A short lease, renewed every 1/3 of it: renewals fail soon after the scheduler goes.
        mesh: {
          nats_url: nats.url,
          heartbeat_interval: "300ms",
          worker_lost_after: "5s",
          lease_ttl: "900ms",
        },
      }),
    );
    const start = (mode: string, ...extra: string[]) => {
      const p = spawnRunmesh([mode, "--config", path, ...extra]);
      procs.push(p);
      return p;
    };
    const poller = start("poller");
    const worker = start("worker", "--id", "steady");
    await poller.waitFor("poller started");
    await worker.waitFor("worker started");
    // The poller asks for leases nobody grants yet.
    await poller.waitFor("no scheduler answers slot lease requests yet");
    const first = start("scheduler");
    await first.waitFor("scheduler started");
    await heldOnce(c);
    // The scheduler dies while the request is held: the lease can no longer be renewed.
    first.kill("SIGKILL");
    await first.exited;
    await poller.waitFor("slot lease lost during jobs/request", 10_000);
    const second = start("scheduler");
    await second.waitFor("scheduler started");
    const j = c.enqueueJob(TOKEN, { script: ["echo handed out once"], gitStrategy: "none" });
    const done = await c.waitForFinal(j.id, 40_000);
    expect(done.status).toBe("success");
    expect(done.acknowledgements).toBe(1);
    expect(done.traceText).toContain("handed out once");
    expect(cut).toEqual([]);
  }, 90_000);

  test("a poller started long before the scheduler finds it soon after it starts, not a check_interval later", async () => {
    nats = await startNatsServer();
    coordinator = await startCoordinator({ longPollMs: 2000, traceUpdateIntervalS: 1 });
    const c = coordinator;
    c.registerRunner(TOKEN);
    const path = join(mkdtempSync(join(tmpdir(), "runmesh-late-scheduler-")), "config.toml");
    // check_interval far beyond this test's waits: a lane that slept it out after a lease request
    // nobody answered would never reach GitLab in time.
    writeFileSync(
      path,
      configToml({
        url: c.url,
        concurrent: 1,
        checkInterval: 600,
        runners: [{ name: "late-scheduler", token: TOKEN }],
        mesh: { nats_url: nats.url, heartbeat_interval: "300ms", worker_lost_after: "5s" },
      }),
    );
    const start = (mode: string, ...extra: string[]) => {
      const p = spawnRunmesh([mode, "--config", path, ...extra]);
      procs.push(p);
      return p;
    };
    const poller = start("poller");
    const worker = start("worker", "--id", "early");
    await worker.waitFor("worker started");
    // Unanswered for a while: the waits have grown well past the first ones.
    await poller.waitFor('"attempts":5', 30_000);
    const j = c.enqueueJob(TOKEN, { script: ["echo found the scheduler"], gitStrategy: "none" });
    start("scheduler");
    const done = await c.waitForFinal(j.id, 40_000);
    expect(done.status).toBe("success");
    expect(done.traceText).toContain("found the scheduler");
  }, 90_000);

  test.each([
    ["a 201 whose lease the scheduler no longer knows is still dispatched, and runs once", false],
    [
      "a job GitLab hands out again after an earlier hand-out of it finished: the finished record is cleared and it runs once",
      true,
    ],
  ])(
    "%s",
    async (_name, earlierFinished) => {
      coordinator = await startCoordinator({ longPollMs: 2000, traceUpdateIntervalS: 1 });
      const c = coordinator;
      c.registerRunner(TOKEN);
      mesh = await startMesh({
        transport: "inproc",
        config: { url: c.url, concurrent: 2, runners: [{ name: "handout", token: TOKEN }] },
      });
      // This test plays the poller: it takes the job from GitLab itself and hands it over with a
      // lease the scheduler never granted (one that expired, or a restarted scheduler's).
      await mesh.poller.stopRequesting();
      const [t] = pollTargets(mesh.config, createLogger({ service: "test", level: "error" }));
      const j = c.enqueueJob(TOKEN, { script: ["echo placed without a lease"], gitStrategy: "none" });
      const r = await t!.client.requestJob({ token: t!.token, systemId: "s_0123456789ab", info: t!.info });
      expect(r.kind).toBe("job");
      if (r.kind !== "job") return;
      const bus = mesh.buses[0]!;
      const queue = await bus.workQueue(ACCEPTED_JOBS_QUEUE, acceptedJobs);
      const acceptedAt = Date.now();
      const job = {
        jobKey: jobKeyOf(t!.url, r.id),
        gitlabUrl: t!.url,
        runnerKey: t!.key,
        runnerName: t!.name,
        jobId: r.id,
        jobToken: r.jobToken,
        timeoutS: r.timeoutS,
        payload: r.body,
        runner: t!.settings,
        systemId: "s_0123456789ab",
        leaseId: "lease-nobody-granted",
        workerId: "w-gone",
        pollerId: "test",
        acceptedAt,
        tls: t!.tls,
      };
      if (earlierFinished) {
        // The same job id's earlier hand-out ran to its end on a worker long gone: its record is
        // final. This first delivery of the new hand-out meets it only at the worker's claim.
        const key = (await recordsKey(bus, { create: true }))!;
        await (await bus.kv(JOBS_BUCKET, jobRecordSchema)).put(
          job.jobKey,
          sealRecord(key, {
            state: "final",
            outcome: "success",
            workerId: "w-old",
            updatedAt: acceptedAt - 60_000,
            job: { ...job, acceptedAt: acceptedAt - 60_000 },
          }),
        );
      }
      await queue.add(job, { msgId: `${job.jobKey}.${acceptedAt}` });
      const done = await c.waitForFinal(j.id, 30_000);
      expect(done.status).toBe("success");
      expect(done.acknowledgements).toBe(1);
      expect(done.traceText).toContain("placed without a lease");
    },
    60_000,
  );

  test("a handoff the bus refuses fails the job at GitLab with a line saying why instead of dropping it", async () => {
    nats = await startNatsServer();
    coordinator = await startCoordinator({ longPollMs: 2000, traceUpdateIntervalS: 1 });
    const c = coordinator;
    c.registerRunner(TOKEN);
    mesh = await startMesh({
      transport: "nats",
      natsUrl: nats.url,
      config: { url: c.url, concurrent: 2, runners: [{ name: "handout", token: TOKEN }] },
    });
    // The accepted-jobs stream disappears (an operator's `nats stream rm`): every publish to it
    // is refused, so the handoff cannot happen.
    const nc = await connect({ servers: nats.url });
    await (await jetstreamManager(nc)).streams.delete(streamNameFor(ACCEPTED_JOBS_QUEUE, "RUNMESH_"));
    await nc.close();
    const j = c.enqueueJob(TOKEN, { script: ["echo never runs"], gitStrategy: "none" });
    const done = await c.waitForFinal(j.id, 40_000);
    expect(done.status).toBe("failed");
    expect(done.failureReason).toBe("runner_system_failure");
    expect(done.traceText).toContain("could not hand the job to its scheduler");
    expect(done.traceText).not.toContain("never runs\n");
  }, 90_000);
});
