import { describe, expect, test } from "bun:test";
import {
  backoffDelayMs,
  DEFAULT_RETRY_POLICY,
  HEADER_WAIT_CAP_MS,
  isRetriableStatus,
  parseHttpDate,
  type RetryDelay,
  retryDelay,
  retryDelayMs,
  sleepUnlessAborted,
} from "./retry.ts";

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

describe("retryDelay", () => {
  const now = Date.parse("Tue, 05 Jan 2021 10:55:00 GMT");
  const mid = () => 0.5;
  // [name, headers, attempt, ms, source, cappedFromMs]. The rules are GitLab Runner 19.4's
  // calculateWaitTime (network/retry_requester.go; TestRetryRequester_calculateWaitTime:
  // "valid reset time", "fallback to retry time", "valid retry time", "fallback to provided
  // backoff"), plus runmesh's cap and HTTP-date Retry-After, marked "runmesh:".
  test.each<[string, Record<string, string>, number, number, string, number | undefined]>([
    [
      "valid reset time: RateLimit-ResetTime wins over Retry-After",
      { "RateLimit-ResetTime": "Tue, 05 Jan 2021 10:55:30 GMT", "Retry-After": "3" },
      1,
      30_000,
      "RateLimit-ResetTime",
      undefined,
    ],
    [
      "fallback to retry time: an unparsable reset time falls back to Retry-After",
      { "RateLimit-ResetTime": "invalid time", "Retry-After": "12" },
      1,
      12_000,
      "Retry-After",
      undefined,
    ],
    [
      "valid retry time: Retry-After in whole seconds",
      { "Retry-After": "7" },
      1,
      7000,
      "Retry-After",
      undefined,
    ],
    [
      "fallback to provided backoff: both headers unusable",
      { "RateLimit-ResetTime": "invalid time", "Retry-After": "soon" },
      1,
      75,
      "backoff",
      undefined,
    ],
    [
      "a reset time in the past falls back to Retry-After",
      { "RateLimit-ResetTime": "Tue, 05 Jan 2021 10:00:00 GMT", "Retry-After": "2" },
      1,
      2000,
      "Retry-After",
      undefined,
    ],
    // GitLab Runner takes a wait only when > 0: Retry-After 0 or negative means backoff.
    ["Retry-After 0 backs off, as GitLab Runner", { "Retry-After": "0" }, 3, 300, "backoff", undefined],
    ["negative Retry-After backs off", { "Retry-After": "-5" }, 1, 75, "backoff", undefined],
    [
      "Retry-After with a + sign (Go's Atoi takes it)",
      { "Retry-After": "+4" },
      1,
      4000,
      "Retry-After",
      undefined,
    ],
    [
      "runmesh: Retry-After as an IMF-fixdate HTTP date (RFC 7231)",
      { "Retry-After": "Tue, 05 Jan 2021 10:55:20 GMT" },
      2,
      20_000,
      "Retry-After",
      undefined,
    ],
    [
      "runmesh: Retry-After as an RFC 850 date",
      { "Retry-After": "Tuesday, 05-Jan-21 10:55:09 GMT" },
      1,
      9000,
      "Retry-After",
      undefined,
    ],
    [
      "runmesh: Retry-After as an asctime date",
      { "Retry-After": "Tue Jan  5 10:55:05 2021" },
      1,
      5000,
      "Retry-After",
      undefined,
    ],
    [
      "runmesh: a Retry-After date in the past backs off",
      { "Retry-After": "Tue, 05 Jan 2021 10:00:00 GMT" },
      2,
      150,
      "backoff",
      undefined,
    ],
    [
      "runmesh: a Retry-After that is neither seconds nor an HTTP date backs off",
      { "Retry-After": "2021-01-05T10:56:00Z" },
      1,
      75,
      "backoff",
      undefined,
    ],
    [
      "runmesh: a reset time an hour ahead is capped at 60 s",
      { "RateLimit-ResetTime": "Tue, 05 Jan 2021 11:55:00 GMT" },
      1,
      60_000,
      "RateLimit-ResetTime",
      3_600_000,
    ],
    [
      "runmesh: a Retry-After of an hour is capped",
      { "Retry-After": "3600" },
      1,
      60_000,
      "Retry-After",
      3_600_000,
    ],
    [
      "runmesh: a Retry-After date an hour ahead is capped",
      { "Retry-After": "Tue, 05 Jan 2021 11:55:00 GMT" },
      1,
      60_000,
      "Retry-After",
      3_600_000,
    ],
    ["runmesh: exactly the cap is not capped", { "Retry-After": "60" }, 1, 60_000, "Retry-After", undefined],
    ["no headers: backoff of attempt 1", {}, 1, 75, "backoff", undefined],
    ["no headers: backoff doubles", {}, 4, 600, "backoff", undefined],
    ["no headers: backoff is capped", {}, 30, 45_000, "backoff", undefined],
  ])("%s", (_name, h, attempt, ms, source, cappedFromMs) => {
    const d = retryDelay(headers(h), attempt, now, policy, mid);
    expect(d).toEqual({ ms, source, ...(cappedFromMs === undefined ? {} : { cappedFromMs }) } as RetryDelay);
    expect(retryDelayMs(headers(h), attempt, now, policy, mid)).toBe(ms);
  });

  test("the cap comes from the policy", () => {
    const d = retryDelay(headers({ "Retry-After": "10" }), 1, now, { ...policy, maxHeaderWaitMs: 2000 }, mid);
    expect(d).toEqual({ ms: 2000, source: "Retry-After", cappedFromMs: 10_000 });
    expect(DEFAULT_RETRY_POLICY.maxHeaderWaitMs).toBe(HEADER_WAIT_CAP_MS);
  });
});

describe("parseHttpDate", () => {
  const now = Date.parse("2026-11-30T00:00:00Z");
  // RFC 7231 §7.1.1.1's example in its three forms, and what must be refused.
  test.each<[string, string | undefined]>([
    ["Sun, 06 Nov 1994 08:49:37 GMT", "1994-11-06T08:49:37Z"],
    ["Sunday, 06-Nov-94 08:49:37 GMT", "1994-11-06T08:49:37Z"],
    ["Sun Nov  6 08:49:37 1994", "1994-11-06T08:49:37Z"],
    ["Sun Nov 16 08:49:37 1994", "1994-11-16T08:49:37Z"],
    ["Monday, 30-Nov-26 01:00:00 GMT", "2026-11-30T01:00:00Z"],
    ["Friday, 01-Jan-99 00:00:00 GMT", "1999-01-01T00:00:00Z"],
    ["Sun, 06 Nov 1994 08:49:37 UTC", undefined],
    ["Sun, 06 Nov 1994 08:49:37 +0000", undefined],
    ["Sun, 31 Feb 1994 08:49:37 GMT", undefined],
    ["Sun, 06 Nov 1994 24:00:00 GMT", undefined],
    ["Sun, 06 Nov 1994 08:49:60 GMT", undefined],
    ["sun, 06 nov 1994 08:49:37 gmt", undefined],
    ["1", undefined],
    ["", undefined],
  ])("%p", (value, iso) => {
    expect(parseHttpDate(value, now)).toBe(iso === undefined ? undefined : Date.parse(iso));
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
