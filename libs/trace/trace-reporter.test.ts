// The trace reporter against the strict test coordinator (tests/coordinator): every PATCH must
// start exactly where GitLab's copy ends, PUT and PATCH carry the job's own token, and each test's
// coordinator is audited afterwards (final checksum and bytesize against what GitLab holds).
import { afterEach, describe, expect, test } from "bun:test";
import {
  type Coordinator,
  type CoordinatorJob,
  type CoordinatorOptions,
  startCoordinator,
} from "../../tests/coordinator/coordinator.ts";
import { protocolFindings } from "../../tests/protocol-audit.ts";
import { GitLabClient } from "../gitlab/client.ts";
import { buildRunnerInfo } from "../gitlab/runner-info.ts";
import { createLogger } from "../log/logger.ts";
import { TraceBuffer } from "./trace-buffer.ts";
import { type FinishResult, JobTraceReporter, type JobTraceReporterOptions } from "./trace-reporter.ts";

const logger = createLogger({ service: "test", level: "silent" });
const info = buildRunnerInfo({
  version: "0.1.0",
  revision: "r",
  executor: "shell",
  shell: "bash",
  features: {},
});
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const crcOf = (b: Uint8Array) => `crc32:${Bun.hash.crc32(b).toString(16).padStart(8, "0")}`;
const RUNNER = "glrt-trace-reporter-test";

let coordinator: Coordinator;
let job: CoordinatorJob;
let client: GitLabClient;
let buffer: TraceBuffer;
let reporter: JobTraceReporter;
afterEach(async () => {
  reporter?.abortLocal();
  await coordinator?.stop();
  await buffer?.remove();
});

const PUT = () => `PUT jobs/${job.id}`;
const PATCH = () => `PATCH jobs/${job.id}/trace`;
const patches = () => coordinator.calls(PATCH());
const puts = () => coordinator.calls(PUT());
const ranges = () => patches().map((c) => c.headers["content-range"]);
const putBody = (i: number) => puts()[i]?.body as Record<string, unknown>;

async function setup(opts: Partial<JobTraceReporterOptions> = {}, coordinatorOpts: CoordinatorOptions = {}) {
  // GitLab answers PATCHes with a 60 s interval; "0" is ignored by the runner, so the reporter
  // keeps the 10 ms cadence these tests need. The interval test below asks for GitLab's 60.
  coordinator = await startCoordinator({ traceUpdateIntervalS: 0, ...coordinatorOpts });
  coordinator.registerRunner(RUNNER);
  job = coordinator.runJob(RUNNER);
  buffer = await TraceBuffer.create();
  client = new GitLabClient({
    url: coordinator.url,
    version: "0.1.0",
    logger,
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
  });
  reporter = new JobTraceReporter({
    client,
    jobId: job.id,
    jobToken: job.token,
    info,
    buffer,
    updateIntervalMs: 10,
    forceSendIntervalMs: 60_000,
    finalBackoff: { baseMs: 1, maxMs: 4 },
    logger,
    ...opts,
  });
}

/** Polls until `cond` holds; fails the test (by its own timeout) if it never does. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await Bun.sleep(5);
}

describe("incremental loop", () => {
  test("streams new output and sends nothing when there is nothing new", async () => {
    await setup();
    reporter.start();
    buffer.write(enc("first\n"));
    await until(() => reporter.sentOffset === 6);
    buffer.write(enc("second\n"));
    await until(() => reporter.sentOffset === 13);
    const sent = patches().length;
    await Bun.sleep(60);
    expect(patches()).toHaveLength(sent);
    expect(job.traceText).toBe("first\nsecond\n");
    expect(ranges()).toEqual(["0-5", "6-12"]);
  });

  test("patches at most maxPatchBytes at a time", async () => {
    await setup({ maxPatchBytes: 4 });
    buffer.write(enc("0123456789"));
    reporter.start();
    await until(() => reporter.sentOffset === 10);
    expect(ranges()).toEqual(["0-3", "4-7", "8-9"]);
  });

  test("416 resynchronises to what GitLab holds and resends from there", async () => {
    await setup();
    // GitLab already holds "abc" (sent by a runner that lost the answer), so the reporter's PATCH
    // from 0 is a rewind: Trace#append refuses it with 416 Range: 0-3.
    await client.patchTrace(job.id, job.token, 0, enc("abc"), { debugTrace: false });
    buffer.write(enc("abcdef"));
    reporter.start();
    await until(() => reporter.sentOffset === 6);
    expect(ranges()).toEqual(["0-2", "0-5", "3-5"]);
    expect(patches().map((c) => c.status)).toEqual([202, 416, 202]);
    expect(job.traceText).toBe("abcdef");
  });

  test("a keep-alive PUT running goes out when nothing was sent for the force-send interval", async () => {
    await setup({ forceSendIntervalMs: 40 });
    reporter.start();
    await until(() => puts().length > 0);
    const b = putBody(0);
    expect(b.state).toBe("running");
    expect(b.output).toEqual({ checksum: "crc32:00000000" });
    expect(puts()[0]?.status).toBe(200);
    expect(patches()).toHaveLength(0);
  });

  test("Job-Status canceling asks for a graceful cancel once and streaming goes on", async () => {
    await setup();
    let cancels = 0;
    let aborts = 0;
    reporter.onCancelRequested(() => cancels++);
    reporter.onAbort(() => aborts++);
    // GitLab's answer to each PATCH of a job being canceled gracefully (the bytes are stored).
    coordinator.script(
      PATCH(),
      ...[1, 2].map(() => ({ status: 202, headers: { "Job-Status": "canceling" }, applyTrace: true })),
    );
    reporter.start();
    buffer.write(enc("a"));
    await until(() => reporter.sentOffset === 1);
    buffer.write(enc("b"));
    await until(() => reporter.sentOffset === 2);
    buffer.write(enc("c"));
    await until(() => reporter.sentOffset === 3);
    expect(cancels).toBe(1);
    expect(aborts).toBe(0);
    expect(job.traceText).toBe("abc");
  });

  test.each<[string, (c: Coordinator, j: CoordinatorJob) => void]>([
    [
      "Job-Status canceled on a 202 (canceled while the append ran)",
      (c, j) =>
        c.script(`PATCH jobs/${j.id}/trace`, {
          status: 202,
          headers: { "Job-Status": "canceled" },
          applyTrace: true,
        }),
    ],
    [
      "Job-Status failed on a 202 (dropped while the append ran)",
      (c, j) =>
        c.script(`PATCH jobs/${j.id}/trace`, {
          status: 202,
          headers: { "Job-Status": "failed" },
          applyTrace: true,
        }),
    ],
    ["403 with Job-Status canceled (the job was canceled)", (c, j) => void c.abort(j.id)],
    ["403", (c) => c.failNextPatches(1, { status: 403 })],
  ])("%s on a patch aborts the job and stops the loop", async (_name, arrange) => {
    await setup();
    let aborts = 0;
    reporter.onAbort(() => aborts++);
    arrange(coordinator, job);
    buffer.write(enc("x"));
    reporter.start();
    await until(() => aborts > 0);
    buffer.write(enc("more"));
    await Bun.sleep(60);
    expect(patches()).toHaveLength(1);
    expect(aborts).toBe(1);
  });

  test.each<[string, (c: Coordinator, j: CoordinatorJob) => void]>([
    ["403 with Job-Status canceled (the job was canceled)", (c, j) => void c.abort(j.id)],
    // GitLab itself answers 403 for a job it does not know; a 404 comes from a proxy in front.
    ["404", (c, j) => c.script(`PUT jobs/${j.id}`, { status: 404 })],
  ])("an abort (%s) on the keep-alive PUT stops the loop too", async (_name, arrange) => {
    await setup({ forceSendIntervalMs: 20 });
    let aborted = false;
    reporter.onAbort(() => {
      aborted = true;
    });
    arrange(coordinator, job);
    reporter.start();
    await until(() => aborted);
    await Bun.sleep(60);
    expect(puts()).toHaveLength(1);
  });

  test("the server's update interval replaces the starting one", async () => {
    await setup({}, { traceUpdateIntervalS: 60 });
    buffer.write(enc("x"));
    reporter.start();
    await until(() => reporter.sentOffset === 1);
    expect(patches()[0]?.responseHeaders["x-gitlab-trace-update-interval"]).toBe("60");
    expect(reporter.updateIntervalMs).toBe(60_000);
  });
});

describe("final update", () => {
  test("drains the log, then PUTs the final state with the checksum of exactly the bytes PATCHed", async () => {
    await setup({ maxPatchBytes: 5 });
    reporter.start();
    buffer.write(enc("line one\n"));
    buffer.write(new Uint8Array([0xff, 0xe2, 0x94]));
    buffer.write(new Uint8Array([0x80, ...enc(" and ─ more\n")]));
    const r = await reporter.finish({ state: "failed", failureReason: "script_failure", exitCode: 2 });
    const stored = job.trace;
    // GitLab took it (200) and, as it does on every PUT answer since 17.x, says Job-Status: failed,
    // which GitLab Runner's createUpdateJobResult reads first: Abort, the end of the final loop.
    expect(r).toMatchObject({ outcome: "abort", failedTries: 0, sentOffset: stored.length, status: 200 });
    expect(puts()[0]?.responseHeaders["job-status"]).toBe("failed");
    expect(puts()).toHaveLength(1);
    expect(putBody(0)).toMatchObject({
      state: "failed",
      failure_reason: "script_failure",
      exit_code: 2,
      checksum: crcOf(stored),
      output: { checksum: crcOf(stored), bytesize: stored.length },
    });
    expect(dec(stored)).toBe("line one\n\ufffd─ and ─ more\n");
    expect(job.status).toBe("failed");
  });

  test("PUT 202 waits and asks again until GitLab says 200", async () => {
    await setup();
    // GitLab's "trace not persisted yet" answer, twice, each with its 1 s backoff interval.
    coordinator.delayNextFinalizations(2);
    buffer.write(enc("done\n"));
    const r = await reporter.finish({ state: "success" });
    expect(r.outcome).toBe("succeeded");
    expect(r.failedTries).toBe(0);
    expect(puts().map((c) => (c.body as Record<string, unknown>).state)).toEqual([
      "success",
      "success",
      "success",
    ]);
    expect(puts().map((c) => c.status)).toEqual([202, 202, 200]);
    expect(job.status).toBe("success");
  });

  test("PUT 412 rewinds to 0 and resends the whole log before the next PUT", async () => {
    await setup();
    coordinator.failNextTraceValidations(1);
    buffer.write(enc("hello world\n"));
    const r = await reporter.finish({ state: "success" });
    expect(r.outcome).toBe("succeeded");
    // The resend from 0 is a rewind of bytes GitLab still holds (a 412 does not empty its copy):
    // Trace#append answers 416 Range: 0-12, so the reporter knows GitLab has it all and PUTs.
    expect(ranges()).toEqual(["0-11", "0-11"]);
    expect(patches().map((c) => c.status)).toEqual([202, 416]);
    expect(coordinator.requests.map((q) => q.method)).toEqual(["PATCH", "PUT", "PATCH", "PUT"]);
    expect(puts().map((c) => c.status)).toEqual([412, 200]);
    expect(job.traceText).toBe("hello world\n");
  });

  test.each<[string, (c: Coordinator, j: CoordinatorJob) => void]>([
    // GitLab itself answers 403 for a job it does not know; a 404 comes from a proxy in front.
    ["404", (c, j) => c.script(`PUT jobs/${j.id}`, { status: 404 })],
    ["403", (c) => c.failNextUpdates(1, { status: 403 })],
    ["403 with Job-Status canceled (the job was canceled)", (c, j) => void c.abort(j.id)],
    // A gracefully canceled job that the runner finishes becomes canceled: 200, Job-Status canceled.
    [
      "200 with Job-Status canceled",
      (c, j) => c.script(`PUT jobs/${j.id}`, { status: 200, headers: { "Job-Status": "canceled" } }),
    ],
  ])("PUT %s gives up at once", async (_name, arrange) => {
    await setup();
    arrange(coordinator, job);
    const r = await reporter.finish({ state: "success" });
    expect(r.outcome).toBe("abort");
    expect(puts()).toHaveLength(1);
  });

  test("other failures are retried with backoff up to the retry limit", async () => {
    await setup({ finalUpdateRetryLimit: 3 });
    coordinator.failNextUpdates(1, { status: 400 });
    coordinator.failNextUpdates(1, { status: 409 });
    coordinator.failNextUpdates(2, { status: 400 });
    const r = await reporter.finish({ state: "success" });
    expect(r.outcome).toBe("gave_up");
    expect(r.failedTries).toBe(3);
    expect(puts().map((c) => c.status)).toEqual([400, 409, 400]);
  });

  test("a failure that clears is retried to success", async () => {
    await setup();
    coordinator.failNextUpdates(1, { status: 400 });
    coordinator.failNextUpdates(1, { status: 409 });
    buffer.write(enc("cleared\n"));
    const r = await reporter.finish({ state: "success" });
    expect(r).toMatchObject({ outcome: "succeeded", failedTries: 2, status: 200 });
    expect(job.status).toBe("success");
  });

  test("a trace 404 stops the drain but the final PUT still goes out", async () => {
    await setup();
    // A 404 comes from a proxy in front of GitLab (GitLab itself says 403): nothing was stored.
    coordinator.script(PATCH(), { status: 404 });
    buffer.write(enc("lost"));
    const r = await reporter.finish({ state: "success" });
    expect(r.outcome).toBe("succeeded");
    expect(patches()).toHaveLength(1);
    expect(puts()).toHaveLength(1);
    // GitLab never got "lost", so the final checksum and bytesize describe bytes it does not hold:
    // the audit must report exactly that, and nothing else.
    expect(job.traceSize).toBe(0);
    expect(protocolFindings(coordinator)).toEqual([
      expect.stringContaining("final checksum"),
      expect.stringContaining("final bytesize"),
    ]);
  });

  test("finish waits for an in-flight patch instead of racing it", async () => {
    await setup({ maxPatchBytes: 3 });
    buffer.write(enc("abcdefghij"));
    // finish() is called while the loop's first PATCH is still unanswered.
    const finished = new Promise<FinishResult>((resolve) => {
      coordinator.events.once("received", () => resolve(reporter.finish({ state: "success" })));
    });
    reporter.start();
    const r = await finished;
    expect(r.outcome).toBe("succeeded");
    expect(job.traceText).toBe("abcdefghij");
    const starts = ranges().map((range) => Number(range?.split("-")[0]));
    // A racing drain would resend from 0 beside the in-flight PATCH and get a 416 for it.
    expect(starts).toEqual([0, 3, 6, 9]);
    expect(patches().map((c) => c.status)).toEqual([202, 202, 202, 202]);
  });

  test("finish is idempotent", async () => {
    await setup();
    buffer.write(enc("once\n"));
    const [a, b] = await Promise.all([
      reporter.finish({ state: "success" }),
      reporter.finish({ state: "success" }),
    ]);
    expect(a).toBe(b);
    expect(puts()).toHaveLength(1);
  });

  test("abortLocal stops streaming without any final update", async () => {
    await setup();
    buffer.write(enc("x"));
    reporter.start();
    reporter.abortLocal();
    const r = await reporter.finish({ state: "success" });
    expect(r.outcome).toBe("local_abort");
    await Bun.sleep(40);
    expect(puts()).toHaveLength(0);
  });
});
