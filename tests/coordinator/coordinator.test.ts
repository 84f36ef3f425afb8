import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { protocolFindings } from "../protocol-audit.ts";
import { parseContentRangeStart } from "./content-range.ts";
import { type Coordinator, type CoordinatorOptions, crc32Checksum, startCoordinator } from "./coordinator.ts";
import { buildJobPayload } from "./job-payload.ts";
import { missingRunnerFeatures, requiredRunnerFeatures } from "./runner-features.ts";
import { traceAcceptBackoffSeconds } from "./trace-backoff.ts";

const RUNNER = "glrt-coordinator-test-runner";
const SYSTEM_ID = "s_0123456789ab";

let c: Coordinator;

// These tests send what gitlab-runner never would (no system_id, wrong checksums) to see the
// coordinator refuse it, so the after-test protocol audit is off here; the audit's own test below
// turns it on by hand.
const start = (o: CoordinatorOptions = {}) => startCoordinator({ audit: false, ...o });

beforeEach(async () => {
  c = await start();
  c.registerRunner(RUNNER);
});

afterEach(async () => {
  await c.stop();
});

function features(extra: Record<string, boolean> = {}): Record<string, boolean> {
  return { trace_reset: true, trace_checksum: true, trace_size: true, cancelable: true, ...extra };
}

function requestJob(body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${c.url}/api/v4/jobs/request`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

function runnerBody(extra: Record<string, unknown> = {}, feats = features()): Record<string, unknown> {
  return { token: RUNNER, system_id: SYSTEM_ID, info: { name: "runmesh", features: feats }, ...extra };
}

interface Taken {
  id: number;
  token: string;
  payload: Record<string, unknown>;
}

async function takeJob(feats = features()): Promise<Taken> {
  c.enqueueJob(RUNNER, { script: ["echo hi"] });
  const res = await requestJob(runnerBody({}, feats), { "RUNNER-TOKEN": RUNNER });
  expect(res.status).toBe(201);
  const payload = (await res.json()) as Record<string, unknown>;
  return { id: payload.id as number, token: payload.token as string, payload };
}

function patch(job: Taken, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${c.url}/api/v4/jobs/${job.id}/trace?debug_trace=false`, {
    method: "PATCH",
    headers: { "JOB-TOKEN": job.token, "Content-Type": "text/plain", ...headers },
    body,
  });
}

function put(id: number, body: Record<string, unknown>, jobToken?: string): Promise<Response> {
  return fetch(`${c.url}/api/v4/jobs/${id}`, {
    method: "PUT",
    headers: { "Content-Type": "application/json", ...(jobToken ? { "JOB-TOKEN": jobToken } : {}) },
    body: JSON.stringify(body),
  });
}

describe("POST jobs/request", () => {
  test("answers 403 for an unknown or blank runner token and 400 without one", async () => {
    expect((await requestJob(runnerBody({ token: "glrt-unknown" }))).status).toBe(403);
    expect((await requestJob(runnerBody({ token: "" }))).status).toBe(403);
    expect((await requestJob({ info: {} })).status).toBe(400);
  });

  test("answers 403 once the runner is forbidden", async () => {
    expect((await requestJob(runnerBody())).status).toBe(204);
    c.setRunnerForbidden(RUNNER);
    expect((await requestJob(runnerBody())).status).toBe(403);
  });

  test("rejects a RUNNER-TOKEN header that differs from the body token", async () => {
    const res = await requestJob(runnerBody(), { "RUNNER-TOKEN": "glrt-other" });
    expect(res.status).toBe(400);
  });

  test("gives a job as 201 application/json with the job token in the repo URL and CI_JOB_TOKEN masked", async () => {
    const queued = c.enqueueJob(RUNNER, {
      script: ["make test"],
      variables: [{ key: "SECRET", value: "s3", masked: true }],
    });
    const res = await requestJob(runnerBody(), { "RUNNER-TOKEN": RUNNER });
    expect(res.status).toBe(201);
    expect(res.headers.get("content-type")).toBe("application/json");
    const payload = (await res.json()) as {
      id: number;
      token: string;
      git_info: { repo_url: string };
      variables: { key: string; value: string; masked: boolean }[];
      steps: { name: string; script: string[] }[];
      features: { failure_reasons: string[] };
    };
    expect(payload.id).toBe(queued.id);
    expect(payload.token).toBe(queued.token);
    expect(payload.git_info.repo_url).toContain(`gitlab-ci-token:${queued.token}@`);
    expect(payload.variables.find((v) => v.key === "CI_JOB_TOKEN")).toMatchObject({
      value: queued.token,
      masked: true,
    });
    expect(payload.variables.find((v) => v.key === "SECRET")).toMatchObject({ value: "s3", masked: true });
    expect(payload.steps[0]).toMatchObject({ name: "script", script: ["make test"] });
    expect(payload.features.failure_reasons).toContain("script_failure");
    expect(payload.features.failure_reasons).not.toContain("job_canceled");
    expect(c.jobs.get(queued.id)?.status).toBe("running");
  });

  test("answers 204 with X-GitLab-Last-Update when there is no job, also for a paused runner", async () => {
    const res = await requestJob(runnerBody());
    expect(res.status).toBe(204);
    expect(res.headers.get("x-gitlab-last-update")).toBe(c.queueValue(RUNNER));
    c.setRunnerPaused(RUNNER, true);
    c.enqueueJob(RUNNER);
    const paused = await requestJob(runnerBody());
    expect(paused.status).toBe(204);
    expect(paused.headers.get("x-gitlab-last-update")).toBe(c.queueValue(RUNNER));
  });

  test("holds a long poll while last_update is current and wakes it with a bare 204 on enqueue", async () => {
    const lastUpdate = c.queueValue(RUNNER);
    const order: string[] = [];
    c.events.on("longPollHeld", () => order.push("held"));
    c.events.on("longPollReleased", () => order.push("released"));
    c.events.on("job", () => order.push("enqueued"));
    const held = requestJob(runnerBody({ last_update: lastUpdate })).then((res) => {
      order.push("answered");
      return res;
    });
    await new Promise<void>((resolve) => c.events.once("longPollHeld", () => resolve()));
    c.enqueueJob(RUNNER);
    const res = await held;
    expect(order).toEqual(["held", "enqueued", "released", "answered"]);
    const record = c.requests.find((r) => r.path === "/api/v4/jobs/request");
    expect(res.status).toBe(204);
    expect(res.headers.get("gitlab-ci-builds-polling")).toBe("yes");
    // Workhorse does not send X-GitLab-Last-Update on a long-poll 204: the runner keeps its old value.
    expect(res.headers.get("x-gitlab-last-update")).toBeNull();
    expect(record?.status).toBe(204);
    // The old value is now stale, so the next request goes to "Rails" and gets the job.
    const next = await requestJob(runnerBody({ last_update: lastUpdate }));
    expect(next.status).toBe(201);
  });

  test("does not long poll without last_update, nor with a stale one", async () => {
    const res = await requestJob(runnerBody());
    expect(res.status).toBe(204);
    expect(res.headers.get("x-gitlab-last-update")).not.toBeNull();
    const stale = await requestJob(runnerBody({ last_update: "not-the-current-value" }));
    expect(stale.status).toBe(204);
    expect(stale.headers.get("x-gitlab-last-update")).toBe(c.queueValue(RUNNER));
  });

  test("without Workhorse long polling, a current last_update gets Rails' cheap 204 with the same value", async () => {
    await c.stop();
    c = await start({ longPollMs: 0 });
    c.registerRunner(RUNNER);
    const current = c.queueValue(RUNNER);
    c.enqueueJob(RUNNER);
    const res = await requestJob(runnerBody({ last_update: c.queueValue(RUNNER) }));
    expect(res.status).toBe(204);
    expect(res.headers.get("x-gitlab-last-update")).toBe(c.queueValue(RUNNER));
    expect(res.headers.get("gitlab-ci-builds-polling")).toBeNull();
    expect((await requestJob(runnerBody({ last_update: current }))).status).toBe(201);
  });

  test("injected 429 and 503 carry Retry-After by default, other statuses none; null leaves it out", async () => {
    c.failNextRequests(1, 429);
    c.failNextRequests(1, 503);
    c.failNextRequests(1, 500);
    c.failNextRequests(1, { status: 503, retryAfterS: null });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push((await requestJob(runnerBody())).headers.get("retry-after"));
    expect(answers).toEqual(["1", "1", null, null]);
  });

  test("a job needing a runner feature the runner lacks is dropped as runner_unsupported; the next one is handed out", async () => {
    const needsExitCodes = c.enqueueJob(RUNNER, { allowFailureExitCodes: [3] });
    const plain = c.enqueueJob(RUNNER);
    const res = await requestJob(runnerBody({}, features()));
    expect(res.status).toBe(201);
    expect(((await res.json()) as { id: number }).id).toBe(plain.id);
    expect(c.jobs.get(needsExitCodes.id)).toMatchObject({
      status: "failed",
      failureReason: "runner_unsupported",
      unsupportedFeatures: ["return_exit_code"],
    });
    // A runner that advertises it gets such a job.
    const again = c.enqueueJob(RUNNER, { allowFailureExitCodes: [3] });
    const ok = await requestJob(runnerBody({}, features({ return_exit_code: true })));
    expect(((await ok.json()) as { id: number }).id).toBe(again.id);
  });

  test("failNextRequests answers 503 with Retry-After, then 429 with RateLimit-ResetTime, then normally", async () => {
    const reset = new Date(Date.UTC(2030, 0, 2, 3, 4, 5));
    c.failNextRequests(2, { status: 503, retryAfterS: 7 });
    c.failNextRequests(1, { status: 429, rateLimitResetTime: reset });
    for (let i = 0; i < 2; i++) {
      const res = await requestJob(runnerBody());
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("7");
    }
    const limited = await requestJob(runnerBody());
    expect(limited.status).toBe(429);
    expect(limited.headers.get("ratelimit-resettime")).toBe(reset.toUTCString());
    expect((await requestJob(runnerBody())).status).toBe(204);
  });

  test("records system_id and features, and flags a request without system_id", async () => {
    await requestJob(runnerBody({}, features({ cancel_gracefully: true })));
    expect(c.managers(RUNNER).get(SYSTEM_ID)).toMatchObject({ cancel_gracefully: true });
    expect(c.violations).toHaveLength(0);
    await requestJob({ token: RUNNER, info: { features: features() } });
    expect(c.violations.some((v) => v.includes("system_id"))).toBe(true);
  });
});

describe("PATCH jobs/:id/trace", () => {
  test("answers 403 for a wrong job token and for an unknown job", async () => {
    const job = await takeJob();
    expect((await patch(job, "x", { "JOB-TOKEN": "glcbt-wrong", "Content-Range": "0-0" })).status).toBe(403);
    expect((await patch({ ...job, id: 999_999 }, "x", { "Content-Range": "0-0" })).status).toBe(403);
  });

  test("answers 400 without Content-Range and for a malformed one", async () => {
    const job = await takeJob();
    expect((await patch(job, "hello")).status).toBe(400);
    expect((await patch(job, "hello", { "Content-Range": "bytes 0-4/*" })).status).toBe(400);
    expect(c.jobs.get(job.id)?.traceSize).toBe(0);
  });

  test("answers 415 for a trace body that is not text/plain", async () => {
    const job = await takeJob();
    const res = await patch(job, "x", { "Content-Range": "0-0", "Content-Type": "application/octet-stream" });
    expect(res.status).toBe(415);
  });

  test("appends, answers 202 with Range, Job-Status and the update interval", async () => {
    const job = await takeJob();
    const res = await patch(job, "hello\n", { "Content-Range": "0-5" });
    expect(res.status).toBe(202);
    expect(res.headers.get("range")).toBe("0-6");
    expect(res.headers.get("job-status")).toBe("running");
    expect(res.headers.get("x-gitlab-trace-update-interval")).toBe("60");
    c.setTraceWatched(job.id, true);
    const more = await patch(job, "world\n", { "Content-Range": "6-11" });
    expect(more.headers.get("range")).toBe("0-12");
    expect(more.headers.get("x-gitlab-trace-update-interval")).toBe("3");
    expect(c.jobs.get(job.id)?.traceText).toBe("hello\nworld\n");
  });

  test("answers 416 with the server's size in Range for a gap", async () => {
    const job = await takeJob();
    await patch(job, "abc", { "Content-Range": "0-2" });
    const res = await patch(job, "zzz", { "Content-Range": "10-12" });
    expect(res.status).toBe(416);
    expect(res.headers.get("range")).toBe("0-3");
    expect(c.jobs.get(job.id)?.traceText).toBe("abc");
  });

  test("a rewind or an overlap gets 416 with the server's size and stores nothing (Trace#append)", async () => {
    const job = await takeJob();
    await patch(job, "abcdef", { "Content-Range": "0-5" });
    for (const [body, range] of [
      ["XY", "2-3"],
      ["abcdefgh", "0-7"],
      ["fg", "5-6"],
    ] as const) {
      const res = await patch(job, body, { "Content-Range": range });
      expect(res.status).toBe(416);
      expect(res.headers.get("range")).toBe("0-6");
      // The API `break`s with error!(…, 416, Range) before setting Job-Status.
      expect(res.headers.get("job-status")).toBeNull();
    }
    const stored = c.jobs.get(job.id)!;
    expect(stored.traceText).toBe("abcdef");
    expect(stored.acceptedPatches.map((p) => [p.start, p.length])).toEqual([[0, 6]]);
    expect(stored.rewinds.map((p) => p.start)).toEqual([2, 0, 5]);
    // A rewind is a resend, not a protocol violation; a gap is (the runner lost bytes).
    expect(c.violations).toEqual([]);
    await patch(job, "zz", { "Content-Range": "9-10" });
    expect(c.violations).toEqual([expect.stringContaining("starts at 9 beyond the 6 bytes")]);
  });

  test("a PATCH beyond the trace size limit drops the job with trace_size_exceeded and gets 403", async () => {
    await c.stop();
    c = await start({ traceSizeLimitBytes: 4 });
    c.registerRunner(RUNNER);
    const job = await takeJob();
    expect((await patch(job, "12345", { "Content-Range": "0-4" })).status).toBe(403);
    expect(c.jobs.get(job.id)).toMatchObject({ status: "failed", failureReason: "trace_size_exceeded" });
  });
});

describe("PUT jobs/:id", () => {
  test("answers 403 for a wrong token or unknown job, 400 without token or with an unknown state", async () => {
    const job = await takeJob();
    expect((await put(job.id, { token: "glcbt-wrong", state: "running" })).status).toBe(403);
    expect((await put(999_999, { token: job.token, state: "running" })).status).toBe(403);
    expect((await put(job.id, { state: "running" }, job.token)).status).toBe(400);
    const unknown = await put(job.id, { token: job.token, state: "exploded" }, job.token);
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get("job-status")).toBe("running");
  });

  test("a finished job answers 403 with its Job-Status to PUT and PATCH", async () => {
    const job = await takeJob();
    const done = await put(job.id, { token: job.token, state: "success" }, job.token);
    expect(done.status).toBe(200);
    expect(await done.text()).toBe("200");
    const again = await put(job.id, { token: job.token, state: "success" }, job.token);
    expect(again.status).toBe(403);
    expect(again.headers.get("job-status")).toBe("success");
    const late = await patch(job, "x", { "Content-Range": "0-0" });
    expect(late.status).toBe(403);
    expect(late.headers.get("job-status")).toBe("success");
  });

  test("verifies checksum and bytesize of the final PUT against the stored trace", async () => {
    const text = "line one\nline two\n";
    const good = await takeJob();
    await patch(good, text, { "Content-Range": `0-${text.length - 1}` });
    const right = crc32Checksum(new TextEncoder().encode(text));
    await put(
      good.id,
      {
        token: good.token,
        state: "success",
        checksum: right,
        output: { checksum: right, bytesize: text.length },
      },
      good.token,
    );
    expect(c.jobs.get(good.id)?.final).toMatchObject({ checksumMatches: true, bytesizeMatches: true });

    const bad = await takeJob();
    await patch(bad, text, { "Content-Range": `0-${text.length - 1}` });
    await put(
      bad.id,
      {
        token: bad.token,
        state: "failed",
        failure_reason: "script_failure",
        exit_code: 2,
        output: { checksum: "crc32:00000000", bytesize: 3 },
      },
      bad.token,
    );
    expect(c.jobs.get(bad.id)?.final).toMatchObject({
      checksumMatches: false,
      bytesizeMatches: false,
      expectedChecksum: right,
      failureReason: "script_failure",
      exitCode: 2,
    });
    expect(c.jobs.get(bad.id)?.status).toBe("failed");
  });

  test("crc32Checksum is CRC-32/IEEE formatted as crc32:%08x", () => {
    expect(crc32Checksum(new TextEncoder().encode("123456789"))).toBe("crc32:cbf43926");
    expect(crc32Checksum(new Uint8Array())).toBe("crc32:00000000");
  });

  test("delayed finalisation answers 202 with X-GitLab-Trace-Update-Interval before 200", async () => {
    c.delayNextFinalizations(2);
    const job = await takeJob();
    const body = {
      token: job.token,
      state: "success",
      output: { checksum: crc32Checksum(new Uint8Array()), bytesize: 0 },
    };
    for (let i = 0; i < 2; i++) {
      const res = await put(job.id, body, job.token);
      expect(res.status).toBe(202);
      expect(res.headers.get("x-gitlab-trace-update-interval")).toBe("1");
      expect(c.jobs.get(job.id)?.status).toBe("running");
    }
    expect((await put(job.id, body, job.token)).status).toBe(200);
    expect(c.jobs.get(job.id)?.status).toBe("success");
  });

  test("failNextTraceValidations answers the final PUT 412 once", async () => {
    c.failNextTraceValidations(1);
    const job = await takeJob();
    const body = { token: job.token, state: "success", output: { checksum: "crc32:00000000", bytesize: 0 } };
    expect((await put(job.id, body, job.token)).status).toBe(412);
    expect((await put(job.id, body, job.token)).status).toBe(200);
  });

  test("failNextUpdates and failNextPatches inject statuses", async () => {
    const job = await takeJob();
    c.failNextUpdates(1, 502);
    c.failNextPatches(1, { status: 500 });
    expect((await put(job.id, { token: job.token, state: "running" }, job.token)).status).toBe(502);
    expect((await patch(job, "a", { "Content-Range": "0-0" })).status).toBe(500);
    expect((await patch(job, "a", { "Content-Range": "0-0" })).status).toBe(202);
  });
});

describe("cancel and abort", () => {
  test("cancel puts a gracefully cancelable job in canceling; the runner's final PUT makes it canceled", async () => {
    const job = await takeJob(features({ cancel_gracefully: true }));
    expect(c.cancel(job.id)).toBe("canceling");
    const res = await patch(job, "bye\n", { "Content-Range": "0-3" });
    expect(res.status).toBe(202);
    expect(res.headers.get("job-status")).toBe("canceling");
    const keepalive = await put(job.id, { token: job.token, state: "running" }, job.token);
    expect(keepalive.headers.get("job-status")).toBe("canceling");
    await put(job.id, { token: job.token, state: "failed", failure_reason: "unknown_failure" }, job.token);
    expect(c.jobs.get(job.id)?.status).toBe("canceled");
  });

  test("cancel without cancel_gracefully, and abort, make the job canceled: later calls get 403 Job-Status canceled", async () => {
    const hard = await takeJob();
    expect(c.cancel(hard.id)).toBe("canceled");
    const res = await patch(hard, "x", { "Content-Range": "0-0" });
    expect(res.status).toBe(403);
    expect(res.headers.get("job-status")).toBe("canceled");

    const aborted = await takeJob(features({ cancel_gracefully: true }));
    expect(c.abort(aborted.id)).toBe("canceled");
    const update = await put(aborted.id, { token: aborted.token, state: "success" }, aborted.token);
    expect(update.status).toBe(403);
    expect(update.headers.get("job-status")).toBe("canceled");
  });
});

describe("two-phase job commit", () => {
  test("keeps the job pending until PUT running acknowledges it", async () => {
    const job = await takeJob(features({ two_phase_job_commit: true }));
    expect(c.jobs.get(job.id)?.status).toBe("waiting_for_ack");
    const keepalive = await put(job.id, { token: job.token, state: "pending" }, job.token);
    expect(keepalive.status).toBe(200);
    expect(keepalive.headers.get("job-status")).toBe("pending");
    expect(c.jobs.get(job.id)?.keepalives).toBe(1);
    const ack = await put(job.id, { token: job.token, state: "running" }, job.token);
    expect(ack.status).toBe(200);
    expect(ack.headers.get("job-status")).toBe("running");
    expect(c.jobs.get(job.id)).toMatchObject({
      status: "running",
      acknowledgements: 1,
      runnerManager: SYSTEM_ID,
    });
    // Once acknowledged, a keep-alive is an unknown state for a running job.
    expect((await put(job.id, { token: job.token, state: "pending" }, job.token)).status).toBe(400);
  });

  test("a final state before the acknowledgement is a 400", async () => {
    const job = await takeJob(features({ two_phase_job_commit: true }));
    expect((await put(job.id, { token: job.token, state: "failed" }, job.token)).status).toBe(400);
    expect(c.jobs.get(job.id)?.status).toBe("waiting_for_ack");
  });

  test("without the runner feature, or with twoPhaseCommit off, the job runs at once", async () => {
    const legacy = await takeJob();
    expect(c.jobs.get(legacy.id)?.status).toBe("running");
    expect((await put(legacy.id, { token: legacy.token, state: "pending" }, legacy.token)).status).toBe(400);
    await c.stop();
    c = await start({ twoPhaseCommit: false });
    c.registerRunner(RUNNER);
    const off = await takeJob(features({ two_phase_job_commit: true }));
    expect(c.jobs.get(off.id)?.status).toBe("running");
  });

  test("an unacknowledged job is dropped as runner_provisioning_timeout and retried as a new job with a new token", async () => {
    await c.stop();
    c = await start({ ackTimeoutMs: 20 });
    c.registerRunner(RUNNER);
    const job = await takeJob(features({ two_phase_job_commit: true }));
    const dropped = await c.waitForJob(job.id, (j) => j.status === "failed");
    expect(dropped.failureReason).toBe("runner_provisioning_timeout");
    const late = await put(job.id, { token: job.token, state: "running" }, job.token);
    expect(late.status).toBe(403);
    expect(late.headers.get("job-status")).toBe("failed");
    // GitLab's auto-retry: a new build, not the old one re-queued.
    const retryId = dropped.retriedAs!;
    expect(retryId).toBeGreaterThan(job.id);
    const res = await requestJob(runnerBody());
    expect(res.status).toBe(201);
    const retry = (await res.json()) as { id: number; token: string };
    expect(retry.id).toBe(retryId);
    expect(retry.token).not.toBe(job.token);
    expect(c.jobs.get(retryId)?.retryOf).toBe(job.id);
  });

  test("a conflict during the keep-alive can be injected with failNextUpdates", async () => {
    const job = await takeJob(features({ two_phase_job_commit: true }));
    c.failNextUpdates(1, 409);
    expect((await put(job.id, { token: job.token, state: "pending" }, job.token)).status).toBe(409);
  });
});

describe("runner features a job needs (Ci::Build::RUNNER_FEATURES)", () => {
  const payloadOf = (spec: Parameters<typeof buildJobPayload>[0]) =>
    buildJobPayload(spec, {
      id: 1,
      token: "glcbt-x",
      serverUrl: "http://gitlab.test",
      pipelineId: 1,
      runnerSessionUrl: null,
      queueSize: 0,
    });
  test.each([
    ["a plain job", {}, []],
    [
      "artifacts reports",
      { artifacts: [{ artifact_type: "junit", paths: ["r.xml"] }] },
      ["upload_multiple_artifacts"],
    ],
    ["a plain archive", { artifacts: [{ artifact_type: "archive", paths: ["a"] }] }, []],
    ["a merge request ref", { gitInfo: { ref: "refs/merge-requests/7/head" } }, ["refspecs"]],
    [
      "artifacts:exclude",
      { artifacts: [{ artifact_type: "archive", paths: ["a"], exclude: ["a/b"] }] },
      ["artifacts_exclude"],
    ],
    [
      "a release step",
      { extra: { steps: [{ name: "release", script: ["x"], when: "on_success" }] } },
      ["multi_build_steps"],
    ],
    ["allow_failure exit codes", { allowFailureExitCodes: [2] }, ["return_exit_code"]],
    ["cache fallback keys", { cache: [{ key: "k", fallback_keys: ["main"] }] }, ["fallback_cache_keys"]],
    ["an EE feature named by the spec", { requiredFeatures: ["vault_secrets"] }, ["vault_secrets"]],
  ] as const)("%s", (_name, spec, expected) => {
    const s = spec as Parameters<typeof buildJobPayload>[0];
    expect(requiredRunnerFeatures(s, payloadOf(s))).toEqual([...expected]);
  });
  test("a feature counts only when the runner reports it truthy", () => {
    expect(
      missingRunnerFeatures(["refspecs", "return_exit_code"], { refspecs: true, return_exit_code: false }),
    ).toEqual(["return_exit_code"]);
  });
});

describe("protocol audit (tests/protocol-audit.ts)", () => {
  test("reports violations, checksum and bytesize mismatches and unlisted failure reasons once each", async () => {
    const job = await takeJob(features({ two_phase_job_commit: false }));
    await requestJob({ token: RUNNER, info: { features: features() } }); // no system_id: a violation
    await patch(job, "abc", { "Content-Range": "0-2" });
    await put(
      job.id,
      {
        token: job.token,
        state: "failed",
        failure_reason: "made_up_reason",
        output: { checksum: "crc32:00000000", bytesize: 2 },
      },
      job.token,
    );
    const findings = protocolFindings(c);
    expect(findings).toEqual([
      expect.stringContaining("no system_id"),
      expect.stringContaining("final checksum crc32:00000000"),
      expect.stringContaining("final bytesize 2 but GitLab holds 3"),
      expect.stringContaining("made_up_reason is not in features.failure_reasons"),
    ]);
    expect(protocolFindings(c)).toEqual([]);
  });
});

describe("runners endpoints", () => {
  test("verify answers 200 with id and token for a known runner, 403 otherwise", async () => {
    const ok = await fetch(`${c.url}/api/v4/runners/verify`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "RUNNER-TOKEN": RUNNER },
      body: JSON.stringify(runnerBody()),
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ token: RUNNER, token_expires_at: null });
    const bad = await fetch(`${c.url}/api/v4/runners/verify`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: "glrt-nope" }),
    });
    expect(bad.status).toBe(403);
  });

  test("DELETE runners/managers removes a known manager (204) and answers 404 for an unknown one", async () => {
    await requestJob(runnerBody());
    const del = (systemId: string) =>
      fetch(`${c.url}/api/v4/runners/managers`, {
        method: "DELETE",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: RUNNER, system_id: systemId }),
      });
    expect((await del(SYSTEM_ID)).status).toBe(204);
    expect((await del(SYSTEM_ID)).status).toBe(404);
  });
});

describe("timeline", () => {
  test("maxConcurrentRunning counts overlapping running intervals per runner", async () => {
    const a = await takeJob();
    const b = await takeJob();
    await put(a.id, { token: a.token, state: "success" }, a.token);
    const third = await takeJob();
    expect(c.maxConcurrentRunning(RUNNER)).toBe(2);
    await put(b.id, { token: b.token, state: "success" }, b.token);
    await put(third.id, { token: third.token, state: "success" }, third.token);
    expect(c.maxConcurrentRunning()).toBe(2);
    expect(c.maxConcurrentRunning("glrt-someone-else")).toBe(0);
  });
});

describe("pure parts", () => {
  test.each([
    [0, 1],
    [1, 1],
    [3, 1],
    [4, 2],
    [7.9, 2],
    [8, 4],
    [16, 8],
    [64, 32],
    [128, 64],
    [10_000, 64],
  ])("trace accept backoff after %p s is %p s", (pending, expected) => {
    expect(traceAcceptBackoffSeconds(pending)).toBe(expected);
  });

  test.each([
    ["0-99", 0],
    ["100-199", 100],
    [" 5-5 ", 5],
  ])("Content-Range %p starts at %p", (header, start) => {
    expect(parseContentRangeStart(header)).toEqual({ ok: true, start });
  });

  test.each(["bytes 0-99/*", "0-", "-5", "abc", ""])("Content-Range %p is rejected", (header) => {
    expect(parseContentRangeStart(header).ok).toBe(false);
  });

  test("spec.extra is merged over the payload, e.g. to send unknown executor_opts", () => {
    const payload = buildJobPayload(
      { extra: { image: { name: "alpine", executor_opts: { docker: { bogus: 1 } } } } },
      {
        id: 1,
        token: "glcbt-x",
        serverUrl: "http://127.0.0.1:1",
        pipelineId: 2,
        runnerSessionUrl: null,
        queueSize: 0,
      },
    );
    expect(payload.image).toEqual({ name: "alpine", executor_opts: { docker: { bogus: 1 } } });
  });
});

describe("main.ts", () => {
  test("runs as a process, prints its URL and is driven through /__admin/", async () => {
    const proc = Bun.spawn(
      [process.execPath, `${import.meta.dir}/main.ts`, "--port", "0", "--long-poll-ms", "1000"],
      {
        stdout: "pipe",
        stderr: "inherit",
      },
    );
    try {
      const reader = proc.stdout.getReader();
      let out = "";
      while (!out.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        out += new TextDecoder().decode(value);
      }
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      expect(url).toBeDefined();
      const admin = (path: string, body?: unknown) =>
        fetch(`${url}/__admin/${path}`, {
          method: body === undefined ? "GET" : "POST",
          headers: { "Content-Type": "application/json" },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      expect((await admin("runners", { token: RUNNER })).status).toBe(201);
      const queued = (await (
        await admin("jobs", { runnerToken: RUNNER, spec: { script: ["true"] } })
      ).json()) as {
        id: number;
      };
      const res = await fetch(`${url}/api/v4/jobs/request`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(runnerBody()),
      });
      expect(res.status).toBe(201);
      const view = (await (await admin(`jobs/${queued.id}`)).json()) as { status: string };
      expect(view.status).toBe("running");
      expect((await admin("jobs/424242")).status).toBe(404);
      expect((await admin("runners", { paused: true })).status).toBe(400);
    } finally {
      proc.kill();
      await proc.exited;
    }
  });
});
