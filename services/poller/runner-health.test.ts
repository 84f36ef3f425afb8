import { describe, expect, test } from "bun:test";
import { nextRequestAt, staggerOffsetMs } from "./request-schedule.ts";
import {
  applyOutcome,
  healthVerdict,
  initialRunnerState,
  LAST_HEALTHY_LAG_MS,
  maxInFlight,
  stateWorthSaving,
} from "./runner-health.ts";

const s = { unhealthyRequestsLimit: 3, unhealthyIntervalMs: 60 * 60_000, requestConcurrency: 4 };
const ok = { gotJob: false, healthy: true, retriableSeen: false };
const bad = { gotJob: false, healthy: false, retriableSeen: false };

describe("runner health", () => {
  test("three unhealthy results in a row silence the entry until unhealthy_interval after the last healthy check", () => {
    let st = initialRunnerState(1000);
    for (let i = 0; i < 2; i++) st = applyOutcome(st, bad, 2000 + i, s);
    expect(healthVerdict(st, 3000, s)).toEqual({ poll: true, forceCheck: false });
    st = applyOutcome(st, bad, 3000, s);
    expect(healthVerdict(st, 4000, s)).toEqual({ poll: false, untilMs: 1000 + s.unhealthyIntervalMs });
    expect(healthVerdict(st, 1000 + s.unhealthyIntervalMs, s)).toEqual({ poll: true, forceCheck: true });
  });

  test("a healthy answer (204, 503, 409 …) resets the failure count", () => {
    let st = initialRunnerState(0);
    st = applyOutcome(st, bad, 1, s);
    st = applyOutcome(st, bad, 2, s);
    st = applyOutcome(st, ok, 3, s);
    expect(st.failures).toBe(0);
    expect(st.lastHealthyAt).toBe(3);
  });

  test.each([
    ["job grows by 1.1", { ...ok, gotJob: true }, 2, 2.2],
    ["empty shrinks by 0.95", ok, 2, 1.9],
    ["retriable status halves", { ...ok, retriableSeen: true }, 3, 1.5],
    ["never below 1", ok, 1, 1],
    ["never above request_concurrency", { ...ok, gotJob: true }, 4, 4],
  ])("adaptive concurrency: %s", (_name, outcome, from, to) => {
    const st = applyOutcome({ ...initialRunnerState(0), adaptiveConcurrency: from }, outcome, 1, s);
    expect(st.adaptiveConcurrency).toBeCloseTo(to, 5);
  });

  test("in-flight limit is the adaptive value rounded up, within request_concurrency", () => {
    expect(maxInFlight({ ...initialRunnerState(0), adaptiveConcurrency: 1 }, s)).toBe(1);
    expect(maxInFlight({ ...initialRunnerState(0), adaptiveConcurrency: 1.05 }, s)).toBe(2);
    expect(
      maxInFlight({ ...initialRunnerState(0), adaptiveConcurrency: 4 }, { ...s, requestConcurrency: 1 }),
    ).toBe(1);
  });

  test("last_update is remembered from any answer that carries one and kept when one does not", () => {
    let st = applyOutcome(initialRunnerState(0), { ...bad, lastUpdate: "abc" }, 1, s);
    expect(st.lastUpdate).toBe("abc");
    st = applyOutcome(st, ok, 2, s);
    expect(st.lastUpdate).toBe("abc");
  });
});

describe("request schedule", () => {
  const base = { checkIntervalMs: 3000, strictCheckInterval: false, gotJob: false, queueChanged: false };
  test.each([
    ["short empty answer waits out the interval", { startedAt: 0, endedAt: 100 }, 3000],
    ["long poll that outlasted the interval goes again at once", { startedAt: 0, endedAt: 50_000 }, 50_000],
    ["a job re-queues at once", { startedAt: 0, endedAt: 100, gotJob: true }, 100],
    ["a woken long poll re-queues at once", { startedAt: 0, endedAt: 100, queueChanged: true }, 100],
    [
      "strict_check_interval spaces even after a job",
      { startedAt: 0, endedAt: 100, gotJob: true, strictCheckInterval: true },
      3000,
    ],
  ])("%s", (_n, over, expected) => {
    expect(nextRequestAt({ ...base, ...over })).toBe(expected);
  });

  test("entries spread evenly over the interval", () => {
    expect([0, 1].map((i) => staggerOffsetMs(i, 2, 10_000))).toEqual([0, 5000]);
  });
});

describe("stateWorthSaving", () => {
  const stored = { failures: 0, lastHealthyAt: 10_000, adaptiveConcurrency: 4, lastUpdate: "q1" };
  test.each([
    ["the same state", {}, false],
    [
      "the last healthy check moved on by under a second",
      { lastHealthyAt: 10_000 + LAST_HEALTHY_LAG_MS },
      false,
    ],
    [
      "the last healthy check moved on by over a second",
      { lastHealthyAt: 10_001 + LAST_HEALTHY_LAG_MS },
      true,
    ],
    ["the last healthy check moved back (another poller's clock)", { lastHealthyAt: 9_999 }, true],
    ["a failure counted", { failures: 1 }, true],
    ["a new queue value alone (a hint, kept by this poller)", { lastUpdate: "q2" }, false],
    ["a new queue value and a check over a second later", { lastUpdate: "q2", lastHealthyAt: 12_000 }, true],
    ["adaptive concurrency moved", { adaptiveConcurrency: 3.8 }, true],
  ])("%s ⇒ %p", (_name, change, expected) => {
    expect(stateWorthSaving(stored, { ...stored, ...change })).toBe(expected);
  });
});
