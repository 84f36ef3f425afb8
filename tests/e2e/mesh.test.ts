// The mesh end to end: coordinator → poller → scheduler → worker → shell → coordinator, on the
// in-process bus and over a real nats-server, checked from the coordinator's side.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import type { JobSpec } from "../coordinator/job-payload.ts";
import { type NatsServer, startNatsServer } from "../infra/nats-server.ts";
import { type Mesh, startMesh, type Transport } from "./mesh-harness.ts";
import { executionsOf, runningPuts } from "./run-count.ts";

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});

const job = (script: string[], extra: Partial<JobSpec> = {}): JobSpec => ({
  script,
  gitStrategy: "none",
  ...extra,
});

async function withMesh(
  transport: Transport,
  runners: { name: string; token: string; limit?: number }[],
  opts: {
    concurrent?: number;
    workers?: number;
    workerSlots?: number;
    coordinator?: Parameters<typeof startCoordinator>[0];
  },
  body: (c: Coordinator, m: Mesh) => Promise<void>,
): Promise<void> {
  const c = await startCoordinator({ longPollMs: 2000, traceUpdateIntervalS: 1, ...opts.coordinator });
  for (const r of runners) c.registerRunner(r.token);
  const m = await startMesh({
    transport,
    natsUrl: nats.url,
    config: { url: c.url, concurrent: opts.concurrent ?? 4, runners },
    workers: opts.workers,
    workerSlots: opts.workerSlots,
  });
  try {
    await body(c, m);
  } finally {
    await m.stop();
    await c.stop();
  }
}

for (const transport of ["inproc", "nats"] as const) {
  describe(`mesh over ${transport}`, () => {
    const r1 = { name: "runner-one", token: `glrt-one-${transport}-0123456789abcdef` };
    const r2 = { name: "runner-two", token: `glrt-two-${transport}-0123456789abcdef` };

    test("a passing job runs once and reports success with the trace GitLab holds matching checksum and size", async () => {
      await withMesh(transport, [r1], {}, async (c) => {
        const marks = mkdtempSync(join(tmpdir(), "runmesh-runs-"));
        const j = c.enqueueJob(r1.token, job([`echo run >> ${marks}/runs`, "echo hello from runmesh"]));
        const done = await c.waitForFinal(j.id, 20_000);
        expect(done.status).toBe("success");
        expect(done.traceText).toContain("hello from runmesh");
        expect(done.final?.checksumMatches).toBe(true);
        expect(done.final?.bytesizeMatches).toBe(true);
        expect(executionsOf(marks)).toBe(1);
        expect(runningPuts(done)).toBe(1);
        expect(done.rewinds).toEqual([]);
      });
    });

    test("a final PUT answered 412 makes runmesh resend the trace from 0; GitLab's 416 resyncs it and the job finishes", async () => {
      await withMesh(transport, [r1], {}, async (c) => {
        c.failNextTraceValidations(1);
        const j = c.enqueueJob(r1.token, job(["echo validated twice"]));
        const done = await c.waitForFinal(j.id, 30_000);
        expect(done.status).toBe("success");
        const finals = done.puts.filter((p) => p.state === "success").map((p) => p.status);
        expect(finals).toEqual([412, 200]);
        // The resend starts at 0, below what GitLab holds: refused with 416, nothing stored twice.
        expect(done.rewinds.length).toBeGreaterThanOrEqual(1);
        expect(done.rewinds.every((p) => p.start === 0 && p.status === 416)).toBe(true);
        expect(done.traceText.split("validated twice").length - 1).toBe(2); // the command line and its output
        expect(done.final?.checksumMatches).toBe(true);
      });
    });

    test("a job needing a feature runmesh does not advertise is dropped by GitLab as runner_unsupported, never run", async () => {
      await withMesh(transport, [r1], {}, async (c) => {
        const marks = mkdtempSync(join(tmpdir(), "runmesh-unsupported-"));
        const fallback = c.enqueueJob(
          r1.token,
          job([`echo run >> ${marks}/runs`], { requiredFeatures: ["vault_secrets"] }),
        );
        const next = c.enqueueJob(r1.token, job(["echo plain job"]));
        expect((await c.waitForFinal(next.id, 20_000)).status).toBe("success");
        expect(c.jobs.get(fallback.id)).toMatchObject({
          status: "failed",
          failureReason: "runner_unsupported",
          unsupportedFeatures: ["vault_secrets"],
        });
        expect(executionsOf(marks)).toBe(0);
      });
    });

    test("a failing job reports failed with script_failure and its exit code", async () => {
      await withMesh(transport, [r1], {}, async (c) => {
        const j = c.enqueueJob(r1.token, job(["echo about to fail", "exit 7"]));
        const done = await c.waitForFinal(j.id, 20_000);
        expect(done.status).toBe("failed");
        expect(done.failureReason).toBe("script_failure");
        expect(done.exitCode).toBe(7);
      });
    });

    test("a job's trace arrives in several contiguous PATCHes while it runs", async () => {
      await withMesh(transport, [r1], {}, async (c) => {
        const j = c.enqueueJob(r1.token, job(["for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 0.4; done"]));
        const done = await c.waitForFinal(j.id, 30_000);
        expect(done.status).toBe("success");
        const accepted = done.acceptedPatches;
        const beforeFinal = accepted.filter((p) => p.at < (done.finishedAt ?? Number.POSITIVE_INFINITY));
        expect(beforeFinal.length).toBeGreaterThanOrEqual(3);
        // Each stored PATCH starts exactly where the previous one ended; refused ones are counted apart.
        const starts = accepted.map((p) => p.start);
        const ends = [0, ...accepted.map((p) => p.start + p.length)].slice(0, -1);
        expect(starts).toEqual(ends);
        expect(done.patches.length - accepted.length).toBe(0);
        expect(done.traceText).toContain("tick 8");
      });
    });

    test("two [[runners]] entries each run their own jobs", async () => {
      await withMesh(transport, [r1, r2], {}, async (c) => {
        const a = c.enqueueJob(r1.token, job(["echo job-for-one"]));
        const b = c.enqueueJob(r2.token, job(["echo job-for-two"]));
        const [da, db] = await Promise.all([c.waitForFinal(a.id, 20_000), c.waitForFinal(b.id, 20_000)]);
        expect(da.status).toBe("success");
        expect(db.status).toBe("success");
        expect(da.traceText).toContain("job-for-one");
        expect(db.traceText).toContain("job-for-two");
        expect(da.traceText).toContain("runner-one");
        expect(db.traceText).toContain("runner-two");
      });
    });

    test("concurrent and limit are never exceeded with more jobs queued than slots", async () => {
      const limited = { ...r1, limit: 1 };
      await withMesh(transport, [limited, r2], { concurrent: 2, workers: 2, workerSlots: 4 }, async (c) => {
        const ids = [
          ...Array.from({ length: 3 }, () => c.enqueueJob(limited.token, job(["sleep 0.6"])).id),
          ...Array.from({ length: 4 }, () => c.enqueueJob(r2.token, job(["sleep 0.6"])).id),
        ];
        const done = await Promise.all(ids.map((id) => c.waitForFinal(id, 60_000)));
        expect(done.every((d) => d.status === "success")).toBe(true);
        expect(c.maxConcurrentRunning(undefined, "assigned")).toBe(2);
        expect(c.maxConcurrentRunning(limited.token, "assigned")).toBe(1);
      });
    });

    test("a 503-with-Retry-After storm on jobs/request is retried and the job still runs", async () => {
      await withMesh(transport, [r1], {}, async (c) => {
        c.failNextRequests(3, { status: 503, retryAfterS: 1 });
        const j = c.enqueueJob(r1.token, job(["echo after the storm"]));
        const done = await c.waitForFinal(j.id, 30_000);
        expect(done.status).toBe("success");
        const statuses = c.requests.filter((r) => r.path.endsWith("/jobs/request")).map((r) => r.status);
        expect(statuses.filter((s) => s === 503).length).toBe(3);
      });
    });

    test("a runner entry whose token gets 403 stops being polled after unhealthy_requests_limit", async () => {
      await withMesh(transport, [r1, r2], {}, async (c) => {
        c.setRunnerForbidden(r1.token);
        const forbidden = () =>
          c.requests.filter(
            (r) =>
              r.path.endsWith("/jobs/request") &&
              (r.body as { token?: string } | undefined)?.token === r1.token,
          ).length;
        const deadline = Date.now() + 15_000;
        while (forbidden() < 3 && Date.now() < deadline) await Bun.sleep(100);
        expect(forbidden()).toBe(3);
        // Others keep working, and several check intervals later the forbidden one is still silent.
        const j = c.enqueueJob(r2.token, job(["echo still polling two"]));
        expect((await c.waitForFinal(j.id, 20_000)).status).toBe("success");
        await Bun.sleep(3000);
        expect(forbidden()).toBe(3);
      });
    });
  });
}
