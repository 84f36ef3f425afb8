import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { createLogger } from "../log/logger.ts";
import { GitLabClient } from "./client.ts";
import { bodyJson, bodyText, FakeGitLab } from "./fake-gitlab.ts";
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
const JOB_TOKEN = "glcbt-job-token-456";

let fake: FakeGitLab;
let client: GitLabClient;
beforeEach(() => {
  fake = new FakeGitLab();
  client = new GitLabClient({
    url: fake.url,
    version: "0.1.0",
    logger,
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
  });
});
afterEach(() => fake.stop());

const request = (lastUpdate?: string) =>
  client.requestJob({ token: RUNNER_TOKEN, systemId: "s_abc", info, lastUpdate });
const jobJson = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    id: 42,
    token: JOB_TOKEN,
    runner_info: { timeout: 600 },
    variables: [{ key: "A", value: "é" }],
    ...extra,
  });

describe("requestJob", () => {
  test("a 201 JSON job comes back raw, with id, token and timeout", async () => {
    const body = jobJson();
    fake.script("POST jobs/request", {
      status: 201,
      headers: { "Content-Type": "application/json; charset=utf-8", "X-GitLab-Last-Update": "lu-2" },
      body,
    });
    const r = await request("lu-1");
    expect(r).toEqual({
      kind: "job",
      status: 201,
      body,
      id: 42,
      jobToken: JOB_TOKEN,
      timeoutS: 600,
      lastUpdate: "lu-2",
      retriableSeen: false,
      longPolling: false,
    });
  });

  test.each([
    ["yes", true],
    ["no", false],
    [undefined, false],
  ])("Gitlab-Ci-Builds-Polling: %p tells whether Workhorse long-polls", async (value, longPolling) => {
    fake.script("POST jobs/request", {
      status: 204,
      headers: value ? { "Gitlab-Ci-Builds-Polling": value } : {},
    });
    expect(await request("lu-1")).toMatchObject({ kind: "none", reason: "no_content", longPolling });
  });

  test.each([0, -1, null])("a job timeout of %p means 7200 s", async (timeout) => {
    fake.script("POST jobs/request", {
      status: 201,
      headers: { "Content-Type": "application/json" },
      body: jobJson({ runner_info: { timeout } }),
    });
    const r = await request();
    expect(r.kind === "job" && r.timeoutS).toBe(7200);
  });

  test("sends the runner token in the header and the body, and last_update only when known", async () => {
    await request();
    await request("lu-9");
    const [first, second] = fake.calls("POST jobs/request");
    expect(first?.headers.get("RUNNER-TOKEN")).toBe(RUNNER_TOKEN);
    expect(first?.headers.get("Accept")).toBe("application/json");
    expect(first?.headers.get("Content-Type")).toBe("application/json");
    const b1 = bodyJson(first!);
    expect(b1.token).toBe(RUNNER_TOKEN);
    expect(b1.system_id).toBe("s_abc");
    expect("last_update" in b1).toBe(false);
    expect((b1.info as { features: Record<string, boolean> }).features.cancel_gracefully).toBe(false);
    expect(bodyJson(second!).last_update).toBe("lu-9");
  });

  test.each<[string, number, Record<string, string>, string, boolean]>([
    ["204 is no job, healthy", 204, {}, "no_content", true],
    ["403 is forbidden, unhealthy", 403, {}, "forbidden", false],
    ["409 is a failed request, healthy", 409, {}, "failed", true],
    ["400 is a failed request, healthy", 400, {}, "failed", true],
    ["501 is a failed request, healthy", 501, {}, "failed", true],
  ])("%s", async (_name, status, headers, reason, healthy) => {
    fake.script("POST jobs/request", { status, headers: { ...headers, "X-GitLab-Last-Update": "lu-x" } });
    const r = await request("lu-0");
    expect(r).toMatchObject({
      kind: "none",
      reason,
      healthy,
      status,
      lastUpdate: "lu-x",
      retriableSeen: false,
    });
  });

  test("503 after every retry is 'unavailable', healthy, and flags retriable statuses", async () => {
    for (let i = 0; i < 5; i++)
      fake.script("POST jobs/request", { status: 503, headers: { "Retry-After": "0" } });
    const r = await request();
    expect(r).toMatchObject({
      kind: "none",
      reason: "unavailable",
      healthy: true,
      status: 503,
      retriableSeen: true,
    });
    expect(fake.calls("POST jobs/request")).toHaveLength(5);
  });

  test("a 503 that clears on retry still delivers the job and reports the retriable status", async () => {
    fake.script(
      "POST jobs/request",
      { status: 503, headers: { "Retry-After": "0" } },
      { status: 201, headers: { "Content-Type": "application/json" }, body: jobJson() },
    );
    const r = await request();
    expect(r).toMatchObject({ kind: "job", id: 42, retriableSeen: true });
  });

  test.each<[string, string, string]>([
    ["text/plain", "text/plain", jobJson()],
    ["undecodable JSON", "application/json", "{not json"],
    ["JSON without a token", "application/json", JSON.stringify({ id: 42 })],
  ])("a 201 with %s drops the job: failed, healthy", async (_name, contentType, body) => {
    fake.script("POST jobs/request", { status: 201, headers: { "Content-Type": contentType }, body });
    const r = await request();
    expect(r).toMatchObject({ kind: "none", reason: "failed", status: 201, healthy: true });
  });

  test("no answer at all is a transport error, unhealthy", async () => {
    const url = fake.url;
    fake.stop();
    const c = new GitLabClient({ url, version: "1", logger });
    const r = await c.requestJob({ token: RUNNER_TOKEN, systemId: "s", info });
    expect(r).toMatchObject({ kind: "none", reason: "transport_error", healthy: false });
  });
});

describe("updateJob", () => {
  test("sends the job token in header and body, and omits empty fields", async () => {
    await client.updateJob(42, JOB_TOKEN, { info, state: "running" });
    const [call] = fake.calls("PUT jobs/42");
    expect(call?.headers.get("JOB-TOKEN")).toBe(JOB_TOKEN);
    const b = bodyJson(call!);
    expect(b.token).toBe(JOB_TOKEN);
    expect(b.state).toBe("running");
    expect(b.output).toEqual({});
    for (const k of ["failure_reason", "exit_code", "checksum"]) expect(k in b).toBe(false);
    expect((b.info as { name: string }).name).toBe("runmesh");
  });

  test("a final failed update carries reason, exit code, output and the deprecated checksum", async () => {
    await client.updateJob(42, JOB_TOKEN, {
      info,
      state: "failed",
      failureReason: "script_failure",
      exitCode: 3,
      output: { checksum: "crc32:0000abcd", bytesize: 10 },
    });
    const b = bodyJson(fake.calls("PUT jobs/42")[0]!);
    expect(b).toMatchObject({
      state: "failed",
      failure_reason: "script_failure",
      exit_code: 3,
      checksum: "crc32:0000abcd",
      output: { checksum: "crc32:0000abcd", bytesize: 10 },
    });
  });

  test("exit code 0 is omitted", async () => {
    await client.updateJob(42, JOB_TOKEN, { info, state: "success", exitCode: 0 });
    expect("exit_code" in bodyJson(fake.calls("PUT jobs/42")[0]!)).toBe(false);
  });

  test.each<[number, Record<string, string>, string, boolean]>([
    [200, {}, "succeeded", false],
    [200, { "Job-Status": "canceling" }, "succeeded", true],
    [200, { "Job-Status": "canceled" }, "abort", false],
    [202, { "X-GitLab-Trace-Update-Interval": "4" }, "accepted", false],
    [412, {}, "trace_validation_failed", false],
    [403, {}, "abort", false],
    [404, {}, "abort", false],
    [409, {}, "failed", false],
  ])("answer %d %j → %s, cancel requested %p", async (status, headers, result, cancelRequested) => {
    fake.script("PUT jobs/42", { status, headers });
    const r = await client.updateJob(42, JOB_TOKEN, { info, state: "running" });
    expect(r.result).toBe(result as never);
    expect(r.cancelRequested).toBe(cancelRequested);
    expect(r.status).toBe(status);
  });

  test("reads the server's update interval", async () => {
    fake.script("PUT jobs/42", { status: 202, headers: { "X-GitLab-Trace-Update-Interval": "4" } });
    expect((await client.updateJob(42, JOB_TOKEN, { info, state: "success" })).updateIntervalS).toBe(4);
  });
});

describe("patchTrace", () => {
  const bytes = new TextEncoder().encode("hello\n");

  test("PATCHes text/plain with an inclusive Content-Range and the debug_trace flag", async () => {
    const r = await client.patchTrace(42, JOB_TOKEN, 0, bytes, { debugTrace: true });
    expect(r).toMatchObject({ result: "succeeded", sentOffset: 6, cancelRequested: false });
    const [call] = fake.calls("PATCH jobs/42/trace");
    expect(call?.headers.get("Content-Type")).toBe("text/plain");
    expect(call?.headers.get("Content-Range")).toBe("0-5");
    expect(call?.headers.get("JOB-TOKEN")).toBe(JOB_TOKEN);
    expect(call?.query.get("debug_trace")).toBe("true");
    expect(bodyText(call!)).toBe("hello\n");
  });

  test("416 moves the offset to what GitLab has (the number after the dash)", async () => {
    fake.setTrace(42, new TextEncoder().encode("abc"));
    const r = await client.patchTrace(42, JOB_TOKEN, 10, bytes, { debugTrace: false });
    expect(r).toMatchObject({ result: "range_mismatch", sentOffset: 3, status: 416 });
  });

  test("Job-Status canceling still advances the offset", async () => {
    fake.script("PATCH jobs/42/trace", { status: 202, headers: { "Job-Status": "canceling" } });
    const r = await client.patchTrace(42, JOB_TOKEN, 0, bytes, { debugTrace: false });
    expect(r).toMatchObject({ result: "succeeded", sentOffset: 6, cancelRequested: true });
  });

  test.each<[number, Record<string, string>, string]>([
    [202, { "Job-Status": "canceled" }, "abort"],
    [403, {}, "abort"],
    [404, {}, "not_found"],
    [400, {}, "failed"],
    [500, {}, "failed"],
  ])("answer %d %j → %s, offset unchanged", async (status, headers, result) => {
    // Five times: a 500 is retried by the transport before the client sees it.
    for (let i = 0; i < 5; i++) fake.script("PATCH jobs/42/trace", { status, headers });
    const r = await client.patchTrace(42, JOB_TOKEN, 0, bytes, { debugTrace: false });
    expect(r.result).toBe(result as never);
    expect(r.sentOffset).toBe(0);
  });

  test("never sends an empty patch", async () => {
    const r = await client.patchTrace(42, JOB_TOKEN, 7, new Uint8Array(0), { debugTrace: false });
    expect(r).toMatchObject({ result: "succeeded", sentOffset: 7 });
    expect(fake.requests).toHaveLength(0);
  });

  test("a server interval is honoured, capped at 15 min; nonsense is ignored", async () => {
    fake.script(
      "PATCH jobs/42/trace",
      { status: 202, headers: { "X-GitLab-Trace-Update-Interval": "3600" } },
      { status: 202, headers: { "X-GitLab-Trace-Update-Interval": "0" } },
    );
    expect((await client.patchTrace(42, JOB_TOKEN, 0, bytes, { debugTrace: false })).updateIntervalS).toBe(
      900,
    );
    expect(
      (await client.patchTrace(42, JOB_TOKEN, 6, bytes, { debugTrace: false })).updateIntervalS,
    ).toBeUndefined();
  });
});

describe("verifyRunner", () => {
  test("200 JSON is valid and tells the token expiry; features are sent", async () => {
    fake.script("POST runners/verify", {
      status: 200,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ id: 5, token: RUNNER_TOKEN, token_expires_at: "2030-01-01T00:00:00Z" }),
    });
    const r = await client.verifyRunner({ token: RUNNER_TOKEN, systemId: "s_1", info });
    expect(r).toEqual({ result: "valid", status: 200, id: 5, tokenExpiresAt: "2030-01-01T00:00:00Z" });
    const [call] = fake.calls("POST runners/verify");
    expect(call?.headers.get("RUNNER-TOKEN")).toBe(RUNNER_TOKEN);
    expect(bodyJson(call!)).toMatchObject({
      token: RUNNER_TOKEN,
      system_id: "s_1",
      info: { features: { cancelable: true } },
    });
  });

  test("a legacy plain-text 200 is still valid", async () => {
    fake.script("POST runners/verify", { status: 200, body: "200" });
    expect(await client.verifyRunner({ token: RUNNER_TOKEN, systemId: "s", info })).toEqual({
      result: "valid",
      status: 200,
    });
  });

  test("403 means the runner is gone; other answers are not", async () => {
    fake.script("POST runners/verify", { status: 403 }, { status: 500 });
    expect((await client.verifyRunner({ token: RUNNER_TOKEN, systemId: "s", info })).result).toBe("invalid");
    expect((await client.verifyRunner({ token: RUNNER_TOKEN, systemId: "s", info })).result).toBe("unknown");
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
    url: fake.url,
    version: "1",
    logger: noisy,
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
  });
  fake.script("POST jobs/request", {
    status: 201,
    headers: { "Content-Type": "application/json" },
    body: jobJson(),
  });
  await c.requestJob({ token: RUNNER_TOKEN, systemId: "s", info });
  fake.script("PUT jobs/42", { status: 409, body: JOB_TOKEN });
  noisy.info({ echo: `${RUNNER_TOKEN} ${JOB_TOKEN}` }, "a careless line");
  await c.updateJob(42, JOB_TOKEN, { info, state: "running" });
  expect(lines.length).toBeGreaterThan(2);
  for (const l of lines) {
    expect(l).not.toContain(RUNNER_TOKEN);
    expect(l).not.toContain(JOB_TOKEN);
  }
});
