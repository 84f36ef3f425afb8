// The HTTP transport: URL normalisation, request identity and transport-level retry, the last
// against the strict test coordinator (its injected faults carry GitLab's headers).
import { afterEach, describe, expect, test } from "bun:test";
import {
  type Coordinator,
  type CoordinatorJob,
  startCoordinator,
} from "../../tests/coordinator/coordinator.ts";
import { createLogger } from "../log/logger.ts";
import {
  apiBaseUrl,
  defaultUserAgent,
  GitLabHttp,
  GitLabTransportError,
  GitLabUrlError,
  newRequestId,
} from "./http.ts";

const logger = createLogger({ service: "test", level: "silent" });

describe("apiBaseUrl", () => {
  test.each([
    ["https://gitlab.example.com", "https://gitlab.example.com/api/v4/"],
    ["https://gitlab.example.com/", "https://gitlab.example.com/api/v4/"],
    ["https://gitlab.example.com/ci", "https://gitlab.example.com/api/v4/"],
    ["https://gitlab.example.com/ci/", "https://gitlab.example.com/api/v4/"],
    ["https://example.com/gitlab/", "https://example.com/gitlab/api/v4/"],
    ["https://example.com/gitlab/ci", "https://example.com/gitlab/api/v4/"],
    ["http://127.0.0.1:8080", "http://127.0.0.1:8080/api/v4/"],
    ["https://example.com/circle", "https://example.com/circle/api/v4/"],
  ])("%s → %s", (input, expected) => {
    expect(apiBaseUrl(input)).toBe(expected);
  });
  test.each(["ftp://gitlab.example.com", "unix:///var/run/gitlab.sock", "gitlab.example.com", ""])(
    "%p is refused with a message naming the URL",
    (input) => {
      expect(() => apiBaseUrl(input)).toThrow(GitLabUrlError);
    },
  );
});

describe("request identity", () => {
  test("request ids are 32 lowercase hex chars and fresh each time", () => {
    const a = newRequestId();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(newRequestId()).not.toBe(a);
  });
  test("User-Agent is shaped like GitLab Runner's", () => {
    expect(defaultUserAgent("1.2.3", "abc123")).toMatch(
      /^runmesh 1\.2\.3 \(abc123; bun [\d.]+; linux\/(amd64|arm64)\)$/,
    );
  });
});

describe("GitLabHttp against the test coordinator", () => {
  const RUNNER = "glrt-http-test";
  let coordinator: Coordinator;
  afterEach(async () => {
    await coordinator?.stop();
  });
  const start = async () => {
    coordinator = await startCoordinator();
    coordinator.registerRunner(RUNNER);
    return coordinator;
  };
  const http = (retry = {}) =>
    new GitLabHttp({
      url: coordinator.url,
      version: "9.9.9",
      logger,
      retry: { baseDelayMs: 1, maxDelayMs: 5, ...retry },
    });
  /** A keep-alive PUT as the runner sends it: the job's own token, JSON. */
  const keepAlive = (job: CoordinatorJob, signal?: AbortSignal) => ({
    method: "PUT" as const,
    path: `jobs/${job.id}`,
    headers: { "JOB-TOKEN": job.token, "Content-Type": "application/json" },
    body: JSON.stringify({ token: job.token, state: "running" }),
    signal,
  });

  test("retries a 503 storm with Retry-After, 5 attempts, then hands the 503 back", async () => {
    await start();
    coordinator.failNextRequests(6, { status: 503, retryAfterS: 0 });
    const body = JSON.stringify({
      token: RUNNER,
      system_id: "s_0123456789ab",
      info: { features: {} },
      payload: "é".repeat(10),
    });
    const res = await http().send({
      method: "POST",
      path: "jobs/request",
      headers: { "Content-Type": "application/json" },
      body,
    });
    expect(res.status).toBe(503);
    expect(res.attempts).toBe(5);
    expect(res.retriableSeen).toBe(true);
    const calls = coordinator.calls("POST jobs/request");
    expect(calls).toHaveLength(5);
    // Byte-identical body, a fresh request id and the User-Agent on every attempt.
    for (const c of calls) {
      expect(new TextDecoder().decode(c.raw)).toBe(body);
      expect(c.headers["user-agent"]).toStartWith("runmesh 9.9.9 (");
      expect(c.headers["x-request-id"]).toMatch(/^[0-9a-f]{32}$/);
    }
    expect(new Set(calls.map((c) => c.headers["x-request-id"])).size).toBe(5);
  });

  test("stops retrying as soon as a non-retriable answer comes", async () => {
    const job = (await start()).runJob(RUNNER);
    coordinator.failNextUpdates(1, { status: 502 });
    coordinator.failNextUpdates(1, { status: 429, retryAfterS: 0 });
    const res = await http().send(keepAlive(job));
    expect(res.status).toBe(200);
    expect(res.attempts).toBe(3);
    expect(res.retriableSeen).toBe(true);
    expect(coordinator.calls(`PUT jobs/${job.id}`).map((c) => c.status)).toEqual([502, 429, 200]);
  });

  test.each([501, 505, 511, 400])("does not retry %d", async (status) => {
    const job = (await start()).runJob(RUNNER);
    coordinator.failNextUpdates(1, { status });
    const res = await http().send(keepAlive(job));
    expect(res.status).toBe(status);
    expect(res.attempts).toBe(1);
    expect(res.retriableSeen).toBe(false);
    expect(coordinator.calls(`PUT jobs/${job.id}`)).toHaveLength(1);
  });

  test("maxAttempts is configurable", async () => {
    const job = (await start()).runJob(RUNNER);
    coordinator.failNextUpdates(5, { status: 500 });
    const res = await http({ maxAttempts: 2 }).send(keepAlive(job));
    expect(res.attempts).toBe(2);
    expect(coordinator.calls(`PUT jobs/${job.id}`)).toHaveLength(2);
  });

  test("an abort ends the wait between attempts", async () => {
    const job = (await start()).runJob(RUNNER);
    coordinator.failNextUpdates(5, { status: 503, retryAfterS: 30 });
    const ac = new AbortController();
    const p = http().send(keepAlive(job, ac.signal));
    while (coordinator.calls(`PUT jobs/${job.id}`).length === 0) await Bun.sleep(5);
    ac.abort();
    const err = await p.catch((e) => e);
    expect(err).toBeInstanceOf(GitLabTransportError);
    expect((err as GitLabTransportError).aborted).toBe(true);
    expect(coordinator.calls(`PUT jobs/${job.id}`)).toHaveLength(1);
  });

  test("a refused connection is a transport error, not an HTTP status", async () => {
    await start();
    const url = coordinator.url;
    await coordinator.stop();
    const client = new GitLabHttp({ url, version: "1", logger });
    await expect(client.send({ method: "GET", path: "x" })).rejects.toBeInstanceOf(GitLabTransportError);
  });

  test("query parameters and the /ci suffix are handled", async () => {
    const job = (await start()).runJob(RUNNER);
    const client = new GitLabHttp({ url: `${coordinator.url}/ci/`, version: "1", logger });
    const res = await client.send({
      method: "PATCH",
      path: `jobs/${job.id}/trace`,
      query: { debug_trace: "false" },
      headers: { "JOB-TOKEN": job.token, "Content-Type": "text/plain", "Content-Range": "0-0" },
      body: "x",
    });
    // 202: the request reached /api/v4/jobs/:id/trace, not /ci/api/v4/….
    expect(res.status).toBe(202);
    const [call] = coordinator.calls(`PATCH jobs/${job.id}/trace`);
    expect(call?.query.debug_trace).toBe("false");
    expect(job.traceText).toBe("x");
  });

  test("a bad URL fails each request, not the constructor", async () => {
    const client = new GitLabHttp({ url: "ftp://x", version: "1", logger });
    expect(client.urlError).toBeInstanceOf(GitLabUrlError);
    await expect(client.send({ method: "GET", path: "x" })).rejects.toBeInstanceOf(GitLabUrlError);
  });
});
