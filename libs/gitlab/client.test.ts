// The Runner API client against the strict test coordinator (tests/coordinator): real runner and
// job tokens, JSON bodies, Trace#append's exact-offset rule. Scripted answers stand in only for
// what GitLab (or a proxy in front of it) can say but the coordinator would not say at that moment.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  type Coordinator,
  type CoordinatorJob,
  type CoordinatorOptions,
  crc32Checksum,
  type RequestRecord,
  startCoordinator,
} from "../../tests/coordinator/coordinator.ts";
import { createLogger } from "../log/logger.ts";
import { GitLabClient } from "./client.ts";
import { buildRunnerInfo } from "./runner-info.ts";

const logger = createLogger({ service: "test", level: "silent" });
const info = buildRunnerInfo({
  version: "0.1.0",
  revision: "r",
  executor: "shell",
  shell: "bash",
  features: { cancelable: true },
});
const RUNNER_TOKEN = "glrt-runner-token-123";
const EMPTY_CHECKSUM = crc32Checksum(new Uint8Array(0));

let coordinator: Coordinator;
let client: GitLabClient;

/** A fresh coordinator (with `opts`) and a client pointed at it. */
async function use(opts: CoordinatorOptions = {}): Promise<void> {
  await coordinator?.stop();
  coordinator = await startCoordinator(opts);
  coordinator.registerRunner(RUNNER_TOKEN);
  client = new GitLabClient({
    url: coordinator.url,
    version: "0.1.0",
    logger,
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
  });
}
beforeEach(() => use());
afterEach(() => coordinator.stop());

const request = (lastUpdate?: string) =>
  client.requestJob({ token: RUNNER_TOKEN, systemId: "s_abc", info, lastUpdate });
/** The JSON body a request carried, as received. */
const sentJson = (r: RequestRecord | undefined) =>
  JSON.parse(new TextDecoder().decode(r?.raw)) as Record<string, unknown>;

describe("requestJob", () => {
  test("a 201 JSON job comes back raw, with id, token and timeout", async () => {
    const job = coordinator.enqueueJob(RUNNER_TOKEN, {
      timeoutS: 600,
      variables: [{ key: "A", value: "é" }],
    });
    const r = await request("lu-1");
    // GitLab sends X-GitLab-Last-Update only with a 204, never with a job.
    expect(r).toEqual({
      kind: "job",
      status: 201,
      body: JSON.stringify(job.payload),
      id: job.id,
      jobToken: job.token,
      timeoutS: 600,
      lastUpdate: undefined,
      retriableSeen: false,
      longPolling: true,
    });
    expect(job.status).toBe("running");
  });

  test.each<[string, () => Promise<void> | void, boolean]>([
    ["yes (Workhorse long-polls)", () => {}, true],
    ["absent (no long polling)", () => use({ longPollMs: 0 }), false],
    // Workhorse says only "yes"; anything else must not switch long polling on.
    [
      "no",
      () =>
        coordinator.script("POST jobs/request", {
          status: 204,
          headers: { "Gitlab-Ci-Builds-Polling": "no" },
        }),
      false,
    ],
  ])(
    "Gitlab-Ci-Builds-Polling %s tells whether Workhorse long-polls",
    async (_name, arrange, longPolling) => {
      await arrange();
      expect(await request("lu-1")).toMatchObject({ kind: "none", reason: "no_content", longPolling });
    },
  );

  test.each([0, -1, null])("a job timeout of %p means 7200 s", async (timeout) => {
    coordinator.enqueueJob(RUNNER_TOKEN, { extra: { runner_info: { timeout, runner_session_url: null } } });
    const r = await request();
    expect(r.kind).toBe("job");
    expect(r.kind === "job" && r.timeoutS).toBe(7200);
  });

  test("sends the runner token in the header and the body, and last_update only when known", async () => {
    await request();
    await request("lu-9");
    const [first, second] = coordinator.calls("POST jobs/request");
    expect(first?.headers["runner-token"]).toBe(RUNNER_TOKEN);
    expect(first?.headers.accept).toBe("application/json");
    expect(first?.headers["content-type"]).toBe("application/json");
    const b1 = sentJson(first);
    expect(b1.token).toBe(RUNNER_TOKEN);
    expect(b1.system_id).toBe("s_abc");
    expect("last_update" in b1).toBe(false);
    expect((b1.info as { features: Record<string, boolean> }).features.cancel_gracefully).toBe(false);
    expect(sentJson(second).last_update).toBe("lu-9");
    expect(coordinator.managers(RUNNER_TOKEN).has("s_abc")).toBe(true);
  });

  // GitLab sends X-GitLab-Last-Update with its 204s only.
  test.each<
    [string, (c: Coordinator) => void, number, string, boolean, (c: Coordinator) => string | undefined]
  >([
    ["204 is no job, healthy", () => {}, 204, "no_content", true, (c) => c.queueValue(RUNNER_TOKEN)],
    [
      "403 is forbidden, unhealthy",
      (c) => c.setRunnerForbidden(RUNNER_TOKEN),
      403,
      "forbidden",
      false,
      () => undefined,
    ],
    // GitLab's conflict! when RegisterJobService loses a race for the job.
    [
      "409 is a failed request, healthy",
      (c) => c.failNextRequests(1, { status: 409 }),
      409,
      "failed",
      true,
      () => undefined,
    ],
    [
      "400 is a failed request, healthy",
      (c) => c.failNextRequests(1, { status: 400 }),
      400,
      "failed",
      true,
      () => undefined,
    ],
    [
      "501 is a failed request, healthy",
      (c) => c.failNextRequests(1, { status: 501 }),
      501,
      "failed",
      true,
      () => undefined,
    ],
  ])("%s", async (_name, arrange, status, reason, healthy, lastUpdate) => {
    arrange(coordinator);
    const r = await request("lu-0");
    expect(r).toMatchObject({ kind: "none", reason, healthy, status, retriableSeen: false });
    expect(r.lastUpdate).toBe(lastUpdate(coordinator));
  });

  test("503 after every retry is 'unavailable', healthy, and flags retriable statuses", async () => {
    coordinator.failNextRequests(5, { status: 503, retryAfterS: 0 });
    const r = await request();
    expect(r).toMatchObject({
      kind: "none",
      reason: "unavailable",
      healthy: true,
      status: 503,
      retriableSeen: true,
    });
    expect(coordinator.calls("POST jobs/request")).toHaveLength(5);
  });

  test("a 503 that clears on retry still delivers the job and reports the retriable status", async () => {
    const job = coordinator.enqueueJob(RUNNER_TOKEN);
    coordinator.failNextRequests(1, { status: 503, retryAfterS: 0 });
    const r = await request();
    expect(r).toMatchObject({ kind: "job", id: job.id, jobToken: job.token, retriableSeen: true });
  });

  // The payload GitLab would send for a job, served broken: a 201 that cannot be read.
  test.each<[string, string, (payload: Record<string, unknown>) => string]>([
    ["text/plain", "text/plain", (p) => JSON.stringify(p)],
    ["undecodable JSON", "application/json", () => "{not json"],
    ["JSON without a token", "application/json", (p) => JSON.stringify({ ...p, token: undefined })],
  ])("a 201 with %s drops the job: failed, healthy", async (_name, contentType, body) => {
    const { payload } = coordinator.enqueueJob(RUNNER_TOKEN);
    coordinator.script("POST jobs/request", {
      status: 201,
      headers: { "Content-Type": contentType },
      body: body(payload),
    });
    const r = await request();
    expect(r).toMatchObject({ kind: "none", reason: "failed", status: 201, healthy: true });
  });

  test("no answer at all is a transport error, unhealthy", async () => {
    const url = coordinator.url;
    await coordinator.stop();
    const c = new GitLabClient({ url, version: "1", logger });
    const r = await c.requestJob({ token: RUNNER_TOKEN, systemId: "s", info });
    expect(r).toMatchObject({ kind: "none", reason: "transport_error", healthy: false });
  });
});

describe("updateJob", () => {
  let job: CoordinatorJob;
  beforeEach(() => {
    job = coordinator.runJob(RUNNER_TOKEN);
  });
  const puts = () => coordinator.calls(`PUT jobs/${job.id}`);
  /** Puts `text` into GitLab's copy of the trace the way the runner does, and returns its bytes. */
  const traceOf = async (text: string) => {
    const bytes = new TextEncoder().encode(text);
    const p = await client.patchTrace(job.id, job.token, 0, bytes, { debugTrace: false });
    expect(p.result).toBe("succeeded");
    return bytes;
  };

  test("sends the job token in header and body, and omits empty fields", async () => {
    const r = await client.updateJob(job.id, job.token, { info, state: "running" });
    expect(r).toMatchObject({ result: "succeeded", status: 200 });
    const [call] = puts();
    expect(call?.headers["job-token"]).toBe(job.token);
    const b = sentJson(call);
    expect(b.token).toBe(job.token);
    expect(b.state).toBe("running");
    expect(b.output).toEqual({});
    for (const k of ["failure_reason", "exit_code", "checksum"]) expect(k in b).toBe(false);
    expect((b.info as { name: string }).name).toBe("runmesh");
  });

  test("a final failed update carries reason, exit code, output and the deprecated checksum", async () => {
    const trace = await traceOf("0123456789");
    const r = await client.updateJob(job.id, job.token, {
      info,
      state: "failed",
      failureReason: "script_failure",
      exitCode: 3,
      output: { checksum: crc32Checksum(trace), bytesize: 10 },
    });
    expect(r.status).toBe(200);
    expect(sentJson(puts()[0])).toMatchObject({
      state: "failed",
      failure_reason: "script_failure",
      exit_code: 3,
      checksum: crc32Checksum(trace),
      output: { checksum: crc32Checksum(trace), bytesize: 10 },
    });
    expect(job).toMatchObject({ status: "failed", failureReason: "script_failure", exitCode: 3 });
  });

  test("exit code 0 is omitted", async () => {
    const trace = await traceOf("ok\n");
    await client.updateJob(job.id, job.token, {
      info,
      state: "success",
      exitCode: 0,
      output: { checksum: crc32Checksum(trace), bytesize: trace.length },
    });
    expect("exit_code" in sentJson(puts()[0])).toBe(false);
    expect(job.status).toBe("success");
  });

  test.each<
    [string, string, boolean, (c: Coordinator, j: CoordinatorJob) => void, "running" | "success", number]
  >([
    ["200", "succeeded", false, () => {}, "running", 200],
    // GitLab's answer to a keep-alive of a job being canceled gracefully.
    [
      "200 Job-Status canceling",
      "succeeded",
      true,
      (c, j) => c.script(`PUT jobs/${j.id}`, { status: 200, headers: { "Job-Status": "canceling" } }),
      "running",
      200,
    ],
    // The job was canceled while the update ran.
    [
      "200 Job-Status canceled",
      "abort",
      false,
      (c, j) => c.script(`PUT jobs/${j.id}`, { status: 200, headers: { "Job-Status": "canceled" } }),
      "running",
      200,
    ],
    ["202 (trace not persisted yet)", "accepted", false, (c) => c.delayNextFinalizations(1), "success", 202],
    ["412", "trace_validation_failed", false, (c) => c.failNextTraceValidations(1), "success", 412],
    [
      "403 Job-Status canceled (the job was canceled)",
      "abort",
      false,
      (c, j) => void c.abort(j.id),
      "running",
      403,
    ],
    ["403", "abort", false, (c) => c.failNextUpdates(1, { status: 403 }), "running", 403],
    // GitLab itself answers 403 for a job it does not know; a 404 comes from a proxy in front.
    ["404", "abort", false, (c) => c.failNextUpdates(1, { status: 404 }), "running", 404],
    ["409", "failed", false, (c) => c.failNextUpdates(1, { status: 409 }), "running", 409],
  ])(
    "answer %s → %s, cancel requested %p",
    async (_name, result, cancelRequested, arrange, state, status) => {
      arrange(coordinator, job);
      const r = await client.updateJob(job.id, job.token, {
        info,
        state,
        output: { checksum: EMPTY_CHECKSUM },
      });
      expect(r.result).toBe(result as never);
      expect(r.cancelRequested).toBe(cancelRequested);
      expect(r.status).toBe(status);
    },
  );

  test("reads the server's update interval", async () => {
    coordinator.delayNextFinalizations(1);
    const r = await client.updateJob(job.id, job.token, {
      info,
      state: "success",
      output: { checksum: EMPTY_CHECKSUM },
    });
    expect(r.status).toBe(202);
    const sent = puts()[0]?.responseHeaders["x-gitlab-trace-update-interval"];
    expect(sent).toBe("1");
    expect(r.updateIntervalS).toBe(1);
  });
});

describe("patchTrace", () => {
  const bytes = new TextEncoder().encode("hello\n");
  let job: CoordinatorJob;
  beforeEach(() => {
    job = coordinator.runJob(RUNNER_TOKEN);
  });
  const patches = () => coordinator.calls(`PATCH jobs/${job.id}/trace`);

  test("PATCHes text/plain with an inclusive Content-Range and the debug_trace flag", async () => {
    const r = await client.patchTrace(job.id, job.token, 0, bytes, { debugTrace: true });
    expect(r).toMatchObject({ result: "succeeded", sentOffset: 6, cancelRequested: false, status: 202 });
    const [call] = patches();
    expect(call?.headers["content-type"]).toBe("text/plain");
    expect(call?.headers["content-range"]).toBe("0-5");
    expect(call?.headers["job-token"]).toBe(job.token);
    expect(call?.query.debug_trace).toBe("true");
    expect(new TextDecoder().decode(call?.raw)).toBe("hello\n");
    expect(job.traceText).toBe("hello\n");
  });

  test("416 moves the offset to what GitLab has (the number after the dash)", async () => {
    await client.patchTrace(job.id, job.token, 0, new TextEncoder().encode("abc"), { debugTrace: false });
    // A resend from 0 of bytes GitLab holds: Trace#append refuses any start but its length.
    const r = await client.patchTrace(job.id, job.token, 0, bytes, { debugTrace: false });
    expect(r).toMatchObject({ result: "range_mismatch", sentOffset: 3, status: 416 });
    expect(patches()[1]?.responseHeaders.range).toBe("0-3");
    expect(job.traceText).toBe("abc");
  });

  test("Job-Status canceling still advances the offset", async () => {
    coordinator.script(`PATCH jobs/${job.id}/trace`, {
      status: 202,
      headers: { "Job-Status": "canceling" },
      applyTrace: true,
    });
    const r = await client.patchTrace(job.id, job.token, 0, bytes, { debugTrace: false });
    expect(r).toMatchObject({ result: "succeeded", sentOffset: 6, cancelRequested: true });
    expect(job.traceText).toBe("hello\n");
  });

  test.each<[string, string, (c: Coordinator, j: CoordinatorJob) => void, number]>([
    // The job was canceled while the append ran: the bytes are stored, the job is over.
    [
      "202 Job-Status canceled",
      "abort",
      (c, j) =>
        c.script(`PATCH jobs/${j.id}/trace`, {
          status: 202,
          headers: { "Job-Status": "canceled" },
          applyTrace: true,
        }),
      202,
    ],
    ["403 Job-Status canceled (the job was canceled)", "abort", (c, j) => void c.abort(j.id), 403],
    ["403", "abort", (c) => c.failNextPatches(1, { status: 403 }), 403],
    // GitLab itself answers 403 for a job it does not know; a 404 comes from a proxy in front.
    ["404", "not_found", (c) => c.failNextPatches(1, { status: 404 }), 404],
    ["400", "failed", (c) => c.failNextPatches(1, { status: 400 }), 400],
    // Five times: a 500 is retried by the transport before the client sees it.
    ["500", "failed", (c) => c.failNextPatches(5, { status: 500 }), 500],
  ])("answer %s → %s, offset unchanged", async (_name, result, arrange, status) => {
    arrange(coordinator, job);
    const r = await client.patchTrace(job.id, job.token, 0, bytes, { debugTrace: false });
    expect(r.result).toBe(result as never);
    expect(r.status).toBe(status);
    expect(r.sentOffset).toBe(0);
  });

  test("never sends an empty patch", async () => {
    const r = await client.patchTrace(job.id, job.token, 7, new Uint8Array(0), { debugTrace: false });
    expect(r).toMatchObject({ result: "succeeded", sentOffset: 7 });
    expect(coordinator.requests).toHaveLength(0);
  });

  test("a server interval is honoured, capped at 15 min; nonsense is ignored", async () => {
    // GitLab sends 60 or 3; a newer or patched server may send anything, and the runner caps it.
    coordinator.script(
      `PATCH jobs/${job.id}/trace`,
      { status: 202, headers: { "X-GitLab-Trace-Update-Interval": "3600" }, applyTrace: true },
      { status: 202, headers: { "X-GitLab-Trace-Update-Interval": "0" }, applyTrace: true },
    );
    const first = await client.patchTrace(job.id, job.token, 0, bytes, { debugTrace: false });
    expect(first.updateIntervalS).toBe(900);
    const second = await client.patchTrace(job.id, job.token, 6, bytes, { debugTrace: false });
    expect(second.result).toBe("succeeded");
    expect(second.updateIntervalS).toBeUndefined();
    expect(job.traceText).toBe("hello\nhello\n");
  });
});

describe("verifyRunner", () => {
  test("200 JSON is valid; features are sent", async () => {
    const r = await client.verifyRunner({ token: RUNNER_TOKEN, systemId: "s_1", info });
    expect(r).toEqual({ result: "valid", status: 200, id: expect.any(Number), tokenExpiresAt: undefined });
    const [call] = coordinator.calls("POST runners/verify");
    expect(call?.headers["runner-token"]).toBe(RUNNER_TOKEN);
    expect(sentJson(call)).toMatchObject({
      token: RUNNER_TOKEN,
      system_id: "s_1",
      info: { features: { cancelable: true } },
    });
    expect(coordinator.managers(RUNNER_TOKEN).get("s_1")).toMatchObject({ cancelable: true });
  });

  test("an expiring token's token_expires_at is read", async () => {
    // GitLab's answer for a runner token with an expiry (the coordinator's never expire).
    coordinator.script("POST runners/verify", {
      status: 200,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ id: 5, token: RUNNER_TOKEN, token_expires_at: "2030-01-01T00:00:00Z" }),
    });
    const r = await client.verifyRunner({ token: RUNNER_TOKEN, systemId: "s_1", info });
    expect(r).toEqual({ result: "valid", status: 200, id: 5, tokenExpiresAt: "2030-01-01T00:00:00Z" });
  });

  test("a legacy plain-text 200 is still valid", async () => {
    coordinator.script("POST runners/verify", { status: 200, body: "200" });
    expect(await client.verifyRunner({ token: RUNNER_TOKEN, systemId: "s", info })).toEqual({
      result: "valid",
      status: 200,
    });
  });

  test("403 means the runner is gone; other answers are not", async () => {
    coordinator.setRunnerForbidden(RUNNER_TOKEN);
    expect(await client.verifyRunner({ token: RUNNER_TOKEN, systemId: "s", info })).toEqual({
      result: "invalid",
      status: 403,
    });
    coordinator.setRunnerForbidden(RUNNER_TOKEN, false);
    // Five times: a 500 is retried by the transport before the client sees it.
    for (let i = 0; i < 5; i++) coordinator.script("POST runners/verify", { status: 500 });
    expect(await client.verifyRunner({ token: RUNNER_TOKEN, systemId: "s", info })).toEqual({
      result: "unknown",
      status: 500,
    });
  });
});

test("tokens never reach a log line", async () => {
  const lines: string[] = [];
  const noisy = createLogger({
    service: "test",
    level: "debug",
    destination: { write: (l: string) => lines.push(l) },
  });
  const c = new GitLabClient({
    url: coordinator.url,
    version: "1",
    logger: noisy,
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
  });
  const job = coordinator.enqueueJob(RUNNER_TOKEN);
  const r = await c.requestJob({ token: RUNNER_TOKEN, systemId: "s", info });
  expect(r).toMatchObject({ kind: "job", jobToken: job.token });
  coordinator.failNextUpdates(1, { status: 409 });
  noisy.info({ echo: `${RUNNER_TOKEN} ${job.token}` }, "a careless line");
  await c.updateJob(job.id, job.token, { info, state: "running" });
  expect(lines.length).toBeGreaterThan(2);
  for (const l of lines) {
    expect(l).not.toContain(RUNNER_TOKEN);
    expect(l).not.toContain(job.token);
  }
});
