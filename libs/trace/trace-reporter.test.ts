import { afterEach, describe, expect, test } from "bun:test";
import { GitLabClient } from "../gitlab/client.ts";
import { bodyJson, FakeGitLab, type FakeGitLabOptions } from "../gitlab/fake-gitlab.ts";
import { buildRunnerInfo } from "../gitlab/runner-info.ts";
import { createLogger } from "../log/logger.ts";
import { TraceBuffer } from "./trace-buffer.ts";
import { JobTraceReporter, type JobTraceReporterOptions } from "./trace-reporter.ts";

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
const JOB = 7;
const PUT = `PUT jobs/${JOB}`;
const PATCH = `PATCH jobs/${JOB}/trace`;

let fake: FakeGitLab;
let buffer: TraceBuffer;
let reporter: JobTraceReporter;
afterEach(async () => {
  reporter?.abortLocal();
  fake?.stop();
  await buffer?.remove();
});

async function setup(opts: Partial<JobTraceReporterOptions> = {}, fakeOpts: FakeGitLabOptions = {}) {
  fake = new FakeGitLab(fakeOpts);
  buffer = await TraceBuffer.create();
  const client = new GitLabClient({
    url: fake.url,
    version: "0.1.0",
    logger,
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
  });
  reporter = new JobTraceReporter({
    client,
    jobId: JOB,
    jobToken: "glcbt-job-token-xyz",
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
    const patches = fake.calls(PATCH).length;
    await Bun.sleep(60);
    expect(fake.calls(PATCH)).toHaveLength(patches);
    expect(dec(fake.trace(JOB))).toBe("first\nsecond\n");
    expect(fake.calls(PATCH).map((c) => c.headers.get("Content-Range"))).toEqual(["0-5", "6-12"]);
  });

  test("patches at most maxPatchBytes at a time", async () => {
    await setup({ maxPatchBytes: 4 });
    buffer.write(enc("0123456789"));
    reporter.start();
    await until(() => reporter.sentOffset === 10);
    expect(fake.calls(PATCH).map((c) => c.headers.get("Content-Range"))).toEqual(["0-3", "4-7", "8-9"]);
  });

  test("416 resynchronises to what GitLab holds and resends from there", async () => {
    await setup({}, { strictAppend: true });
    fake.setTrace(JOB, enc("abc"));
    buffer.write(enc("abcdef"));
    reporter.start();
    await until(() => reporter.sentOffset === 6);
    expect(fake.calls(PATCH).map((c) => c.headers.get("Content-Range"))).toEqual(["0-5", "3-5"]);
    expect(dec(fake.trace(JOB))).toBe("abcdef");
  });

  test("a keep-alive PUT running goes out when nothing was sent for the force-send interval", async () => {
    await setup({ forceSendIntervalMs: 40 });
    reporter.start();
    await until(() => fake.calls(PUT).length > 0);
    const b = bodyJson(fake.calls(PUT)[0]!);
    expect(b.state).toBe("running");
    expect(b.output).toEqual({ checksum: "crc32:00000000" });
    expect(fake.calls(PATCH)).toHaveLength(0);
  });

  test("Job-Status canceling asks for a graceful cancel once and streaming goes on", async () => {
    await setup();
    let cancels = 0;
    let aborts = 0;
    reporter.onCancelRequested(() => cancels++);
    reporter.onAbort(() => aborts++);
    fake.script(
      PATCH,
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
    expect(dec(fake.trace(JOB))).toBe("abc");
  });

  test.each<[string, { status: number; headers?: Record<string, string> }]>([
    ["Job-Status canceled", { status: 202, headers: { "Job-Status": "canceled" } }],
    ["Job-Status failed", { status: 202, headers: { "Job-Status": "failed" } }],
    ["403", { status: 403 }],
  ])("%s on a patch aborts the job and stops the loop", async (_name, answer) => {
    await setup();
    let aborts = 0;
    reporter.onAbort(() => aborts++);
    fake.script(PATCH, answer);
    buffer.write(enc("x"));
    reporter.start();
    await until(() => aborts > 0);
    buffer.write(enc("more"));
    await Bun.sleep(60);
    expect(fake.calls(PATCH)).toHaveLength(1);
    expect(aborts).toBe(1);
  });

  test("an abort on the keep-alive PUT stops the loop too", async () => {
    await setup({ forceSendIntervalMs: 20 });
    let aborted = false;
    reporter.onAbort(() => {
      aborted = true;
    });
    fake.script(PUT, { status: 404 });
    reporter.start();
    await until(() => aborted);
    await Bun.sleep(60);
    expect(fake.calls(PUT)).toHaveLength(1);
  });

  test("the server's update interval replaces the starting one", async () => {
    await setup();
    fake.script(PATCH, {
      status: 202,
      headers: { "X-GitLab-Trace-Update-Interval": "60" },
      applyTrace: true,
    });
    buffer.write(enc("x"));
    reporter.start();
    await until(() => reporter.sentOffset === 1);
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
    const stored = fake.trace(JOB);
    expect(r).toMatchObject({ outcome: "succeeded", failedTries: 0, sentOffset: stored.length, status: 200 });
    const puts = fake.calls(PUT);
    expect(puts).toHaveLength(1);
    expect(bodyJson(puts[0]!)).toMatchObject({
      state: "failed",
      failure_reason: "script_failure",
      exit_code: 2,
      checksum: crcOf(stored),
      output: { checksum: crcOf(stored), bytesize: stored.length },
    });
    expect(dec(stored)).toBe("line one\n\ufffd─ and ─ more\n");
  });

  test("PUT 202 waits and asks again until GitLab says 200", async () => {
    await setup();
    fake.script(PUT, { status: 202 }, { status: 202 });
    buffer.write(enc("done\n"));
    const r = await reporter.finish({ state: "success" });
    expect(r.outcome).toBe("succeeded");
    expect(r.failedTries).toBe(0);
    expect(fake.calls(PUT).map((c) => bodyJson(c).state)).toEqual(["success", "success", "success"]);
  });

  test("PUT 412 rewinds to 0 and resends the whole log before the next PUT", async () => {
    await setup();
    fake.script(PUT, { status: 412 });
    buffer.write(enc("hello world\n"));
    const r = await reporter.finish({ state: "success" });
    expect(r.outcome).toBe("succeeded");
    const ranges = fake.calls(PATCH).map((c) => c.headers.get("Content-Range"));
    expect(ranges).toEqual(["0-11", "0-11"]);
    const order = fake.requests.map((q) => q.method);
    expect(order).toEqual(["PATCH", "PUT", "PATCH", "PUT"]);
    expect(dec(fake.trace(JOB))).toBe("hello world\n");
  });

  test.each<[string, { status: number; headers?: Record<string, string> }]>([
    ["404", { status: 404 }],
    ["403", { status: 403 }],
    ["Job-Status canceled", { status: 200, headers: { "Job-Status": "canceled" } }],
  ])("PUT %s gives up at once", async (_name, answer) => {
    await setup();
    fake.script(PUT, answer);
    const r = await reporter.finish({ state: "success" });
    expect(r.outcome).toBe("abort");
    expect(fake.calls(PUT)).toHaveLength(1);
  });

  test("other failures are retried with backoff up to the retry limit", async () => {
    await setup({ finalUpdateRetryLimit: 3 });
    fake.script(PUT, { status: 400 }, { status: 409 }, { status: 400 }, { status: 400 });
    const r = await reporter.finish({ state: "success" });
    expect(r.outcome).toBe("gave_up");
    expect(r.failedTries).toBe(3);
    expect(fake.calls(PUT)).toHaveLength(3);
  });

  test("a failure that clears is retried to success", async () => {
    await setup();
    fake.script(PUT, { status: 400 }, { status: 409 });
    const r = await reporter.finish({ state: "success" });
    expect(r).toMatchObject({ outcome: "succeeded", failedTries: 2 });
  });

  test("a trace 404 stops the drain but the final PUT still goes out", async () => {
    await setup();
    fake.script(PATCH, { status: 404 });
    buffer.write(enc("lost"));
    const r = await reporter.finish({ state: "success" });
    expect(r.outcome).toBe("succeeded");
    expect(fake.calls(PATCH)).toHaveLength(1);
    expect(fake.calls(PUT)).toHaveLength(1);
  });

  test("finish waits for an in-flight patch instead of racing it", async () => {
    await setup({ maxPatchBytes: 3 });
    buffer.write(enc("abcdefghij"));
    reporter.start();
    await until(() => fake.calls(PATCH).length > 0);
    const r = await reporter.finish({ state: "success" });
    expect(r.outcome).toBe("succeeded");
    expect(dec(fake.trace(JOB))).toBe("abcdefghij");
    const starts = fake.calls(PATCH).map((c) => Number(c.headers.get("Content-Range")!.split("-")[0]));
    expect(starts).toEqual([0, 3, 6, 9]);
  });

  test("finish is idempotent", async () => {
    await setup();
    const [a, b] = await Promise.all([
      reporter.finish({ state: "success" }),
      reporter.finish({ state: "success" }),
    ]);
    expect(a).toBe(b);
    expect(fake.calls(PUT)).toHaveLength(1);
  });

  test("abortLocal stops streaming without any final update", async () => {
    await setup();
    buffer.write(enc("x"));
    reporter.start();
    reporter.abortLocal();
    const r = await reporter.finish({ state: "success" });
    expect(r.outcome).toBe("local_abort");
    await Bun.sleep(40);
    expect(fake.calls(PUT)).toHaveLength(0);
  });
});
