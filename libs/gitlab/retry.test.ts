import { describe, expect, test } from "bun:test";
import { backoffDelayMs, isRetriableStatus, retryDelayMs, sleepUnlessAborted } from "./retry.ts";

const headers = (h: Record<string, string>) => new Headers(h);
const policy = { baseDelayMs: 100, maxDelayMs: 60_000 };

describe("isRetriableStatus", () => {
  test.each([
    [408, true],
    [429, true],
    [500, true],
    [502, true],
    [503, true],
    [504, true],
    [512, true],
    [599, true],
    [501, false],
    [505, false],
    [508, false],
    [511, false],
    [200, false],
    [201, false],
    [204, false],
    [400, false],
    [403, false],
    [404, false],
    [409, false],
    [412, false],
    [416, false],
  ])("status %d retriable: %p", (status, expected) => {
    expect(isRetriableStatus(status)).toBe(expected);
  });
});

describe("retryDelayMs", () => {
  const now = Date.parse("Tue, 05 Jan 2021 10:55:00 GMT");
  const mid = () => 0.5;
  test.each<[string, Record<string, string>, number, number]>([
    [
      "RateLimit-ResetTime wins over Retry-After",
      { "RateLimit-ResetTime": "Tue, 05 Jan 2021 11:00:00 GMT", "Retry-After": "3" },
      1,
      300_000,
    ],
    ["Retry-After in whole seconds", { "Retry-After": "7" }, 1, 7000],
    ["Retry-After 0 means retry at once", { "Retry-After": "0" }, 3, 0],
    [
      "a reset time in the past falls back to Retry-After",
      { "RateLimit-ResetTime": "Tue, 05 Jan 2021 10:00:00 GMT", "Retry-After": "2" },
      1,
      2000,
    ],
    ["an unparsable reset time falls back to backoff", { "RateLimit-ResetTime": "soon" }, 1, 75],
    [
      "a Retry-After date is not seconds: backoff",
      { "Retry-After": "Tue, 05 Jan 2021 11:00:00 GMT" },
      2,
      150,
    ],
    ["negative Retry-After is ignored", { "Retry-After": "-5" }, 1, 75],
    ["no headers: backoff of attempt 1", {}, 1, 75],
    ["no headers: backoff doubles", {}, 4, 600],
    ["no headers: backoff is capped", {}, 30, 45_000],
  ])("%s", (_name, h, attempt, expected) => {
    expect(retryDelayMs(headers(h), attempt, now, policy, mid)).toBe(expected);
  });
});

describe("backoffDelayMs", () => {
  test("jitter stays within the upper half of the step", () => {
    expect(backoffDelayMs(3, policy, () => 0)).toBe(200);
    expect(backoffDelayMs(3, policy, () => 0.999999)).toBe(400);
  });
  test("base and cap are injectable", () => {
    expect(backoffDelayMs(10, { baseDelayMs: 1, maxDelayMs: 8 }, () => 1)).toBe(8);
  });
});

describe("sleepUnlessAborted", () => {
  test("an abort ends the wait and reports it", async () => {
    const ac = new AbortController();
    const p = sleepUnlessAborted(60_000, ac.signal);
    ac.abort();
    expect(await p).toBe(false);
  });
  test("a full wait reports true", async () => {
    expect(await sleepUnlessAborted(1)).toBe(true);
  });
});
