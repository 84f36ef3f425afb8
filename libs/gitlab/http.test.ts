import { afterEach, describe, expect, test } from "bun:test";
import { createLogger } from "../log/logger.ts";
import { FakeGitLab } from "./fake-gitlab.ts";
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

describe("GitLabHttp against a local server", () => {
  let fake: FakeGitLab;
  afterEach(() => fake?.stop());
  const http = (retry = {}) =>
    new GitLabHttp({
      url: fake.url,
      version: "9.9.9",
      logger,
      retry: { baseDelayMs: 1, maxDelayMs: 5, ...retry },
    });

  test("retries a 503 storm with Retry-After, 5 attempts, then hands the 503 back", async () => {
    fake = new FakeGitLab();
    for (let i = 0; i < 6; i++)
      fake.script("POST runners/verify", { status: 503, headers: { "Retry-After": "0" } });
    const body = JSON.stringify({ token: "t", payload: "é".repeat(10) });
    const res = await http().send({ method: "POST", path: "runners/verify", body });
    expect(res.status).toBe(503);
    expect(res.attempts).toBe(5);
    expect(res.retriableSeen).toBe(true);
    const calls = fake.calls("POST runners/verify");
    expect(calls).toHaveLength(5);
    // Byte-identical body, a fresh request id and the User-Agent on every attempt.
    for (const c of calls) {
      expect(new TextDecoder().decode(c.body)).toBe(body);
      expect(c.headers.get("User-Agent")).toStartWith("runmesh 9.9.9 (");
      expect(c.headers.get("X-Request-Id")).toMatch(/^[0-9a-f]{32}$/);
    }
    expect(new Set(calls.map((c) => c.headers.get("X-Request-Id"))).size).toBe(5);
  });

  test("stops retrying as soon as a non-retriable answer comes", async () => {
    fake = new FakeGitLab();
    fake.script(
      "PUT jobs/1",
      { status: 502 },
      { status: 429, headers: { "Retry-After": "0" } },
      { status: 200 },
    );
    const res = await http().send({ method: "PUT", path: "jobs/1", body: "{}" });
    expect(res.status).toBe(200);
    expect(res.attempts).toBe(3);
    expect(res.retriableSeen).toBe(true);
  });

  test.each([501, 505, 511, 400])("does not retry %d", async (status) => {
    fake = new FakeGitLab();
    fake.script("PUT jobs/1", { status }, { status: 200 });
    const res = await http().send({ method: "PUT", path: "jobs/1", body: "{}" });
    expect(res.status).toBe(status);
    expect(res.attempts).toBe(1);
    expect(res.retriableSeen).toBe(false);
    expect(fake.calls("PUT jobs/1")).toHaveLength(1);
  });

  test("maxAttempts is configurable", async () => {
    fake = new FakeGitLab();
    for (let i = 0; i < 5; i++) fake.script("PUT jobs/1", { status: 500 });
    const res = await http({ maxAttempts: 2 }).send({ method: "PUT", path: "jobs/1", body: "{}" });
    expect(res.attempts).toBe(2);
    expect(fake.calls("PUT jobs/1")).toHaveLength(2);
  });

  test("an abort ends the wait between attempts", async () => {
    fake = new FakeGitLab();
    for (let i = 0; i < 5; i++) fake.script("PUT jobs/1", { status: 503, headers: { "Retry-After": "30" } });
    const ac = new AbortController();
    const p = http().send({ method: "PUT", path: "jobs/1", body: "{}", signal: ac.signal });
    while (fake.calls("PUT jobs/1").length === 0) await Bun.sleep(5);
    ac.abort();
    const err = await p.catch((e) => e);
    expect(err).toBeInstanceOf(GitLabTransportError);
    expect((err as GitLabTransportError).aborted).toBe(true);
    expect(fake.calls("PUT jobs/1")).toHaveLength(1);
  });

  test("a refused connection is a transport error, not an HTTP status", async () => {
    fake = new FakeGitLab();
    const url = fake.url;
    fake.stop();
    const client = new GitLabHttp({ url, version: "1", logger });
    await expect(client.send({ method: "GET", path: "x" })).rejects.toBeInstanceOf(GitLabTransportError);
  });

  test("query parameters and the /ci suffix are handled", async () => {
    fake = new FakeGitLab();
    const client = new GitLabHttp({ url: `${fake.url}/ci/`, version: "1", logger });
    await client.send({ method: "PATCH", path: "jobs/7/trace", query: { debug_trace: "false" }, body: "x" });
    const [call] = fake.calls("PATCH jobs/7/trace");
    expect(call?.query.get("debug_trace")).toBe("false");
  });

  test("a bad URL fails each request, not the constructor", async () => {
    fake = new FakeGitLab();
    const client = new GitLabHttp({ url: "ftp://x", version: "1", logger });
    expect(client.urlError).toBeInstanceOf(GitLabUrlError);
    await expect(client.send({ method: "GET", path: "x" })).rejects.toBeInstanceOf(GitLabUrlError);
  });
});
