// The logger's secrets: runner tokens for good, job tokens only while a job holds them, so a
// long-running worker's registry (and the pattern every log line goes through) stays the size
// of its running jobs.
import { expect, test } from "bun:test";
import { createLogger } from "./logger.ts";
import { SecretRegistry, secrets } from "./secret-registry.ts";

const tokenOf = (i: number) => `jobtok-${i.toString(36).padStart(6, "0")}-Zq7bX9`;

test("after 10,000 jobs held and released the registry holds none of them, and redacts none", () => {
  const r = new SecretRegistry();
  r.add("runner-token-0123456789");
  for (let i = 0; i < 10_000; i++) {
    const hold = r.hold(tokenOf(i));
    // While held, the token is redacted (the pattern is rebuilt for it).
    expect(r.redact(`job ${i} token=${tokenOf(i)}`)).toBe(`job ${i} token=[REDACTED]`);
    hold.release();
  }
  expect(r.size).toBe(1);
  expect([0, 1, 9_999].filter((i) => r.has(tokenOf(i)))).toEqual([]);
  // Forgotten: a no-op release would still blank these out.
  expect(r.redact(`${tokenOf(7)} ${tokenOf(9_999)}`)).toBe(`${tokenOf(7)} ${tokenOf(9_999)}`);
  expect(r.redact("runner-token-0123456789")).toBe("[REDACTED]");
});

test("a token held twice (poller and worker in one process) stays until both release", () => {
  const r = new SecretRegistry();
  const poller = r.hold("shared-job-token-1");
  const worker = r.hold("shared-job-token-1");
  poller.release();
  poller.release(); // idempotent: does not take the worker's hold with it
  expect(r.redact("x shared-job-token-1")).toBe("x [REDACTED]");
  worker.release();
  expect(r.has("shared-job-token-1")).toBe(false);
  expect(r.size).toBe(0);
});

test("a released token that is also a permanent secret stays redacted", () => {
  const r = new SecretRegistry();
  r.add("both-kinds-token");
  r.hold("both-kinds-token").release();
  expect(r.redact("both-kinds-token")).toBe("[REDACTED]");
});

test("`using` releases at the end of the scope", () => {
  const r = new SecretRegistry();
  {
    using _held = r.hold("scoped-token-abc");
    expect(r.has("scoped-token-abc")).toBe(true);
  }
  expect(r.has("scoped-token-abc")).toBe(false);
});

test("short values are not registered; longest match wins; JSON-escaped values are found", () => {
  const r = new SecretRegistry();
  r.add("abc");
  const h = r.hold("abcdef");
  r.add("abcdefghij");
  r.add('quo"te\\secret');
  expect(r.size).toBe(3);
  expect(r.redact("abc abcdef abcdefghij")).toBe("abc [REDACTED] [REDACTED]");
  expect(r.redact(JSON.stringify({ v: 'quo"te\\secret' }))).toBe('{"v":"[REDACTED]"}');
  h.release();
});

test("a job token with GitLab's glcbt- prefix is redacted even after its release (late lines)", () => {
  const r = new SecretRegistry();
  r.hold("glcbt-64_AbC123xyz_late").release();
  expect(r.has("glcbt-64_AbC123xyz_late")).toBe(false);
  expect(r.redact('{"msg":"late glcbt-64_AbC123xyz_late."}')).toBe('{"msg":"late [REDACTED]"}');
});

test("the process logger redacts from the shared registry and stops once released", () => {
  const lines: string[] = [];
  const log = createLogger({ service: "t", destination: { write: (l: string) => lines.push(l) } });
  const hold = secrets.hold("process-job-token-42");
  log.info({ job: { token: "process-job-token-42" } }, "careless");
  hold.release();
  log.info("after release: process-job-token-42");
  expect(lines[0]).not.toContain("process-job-token-42");
  // Documents the contract: release only after the job's last line (see worker.ts).
  expect(lines[1]).toContain("process-job-token-42");
});
