import { describe, expect, test } from "bun:test";
import { formatGoDuration, formatGoDurationNs, GoDurationError, parseGoDuration } from "./go-duration.ts";

describe("parseGoDuration", () => {
  test.each([
    ["1h30m", 5_400_000],
    ["30m0s", 1_800_000],
    ["0s", 0],
    ["0", 0],
    ["-1.5s", -1500],
    ["+2s", 2000],
    ["300ms", 300],
    ["1.5h", 5_400_000],
    [".5s", 500],
    ["1.s", 1000],
    ["2h45m30.5s", 9_930_500],
    ["100us", 0.1],
    ["100µs", 0.1],
    ["100μs", 0.1],
    ["1500ns", 0.0015],
  ])("%p is %p ms", (input, ms) => {
    expect(parseGoDuration(input)).toBeCloseTo(ms, 9);
  });

  test.each([
    ["", "it is empty"],
    ["1h30min", 'unknown unit "min"'],
    ["3600", 'missing unit after "3600"'],
    ["h", 'expected a number at "h"'],
    ["1d", 'unknown unit "d"'],
    ["1.5.5s", 'missing unit after "1.5"'],
    ["-", "it is empty"],
  ])("rejects %p (%s)", (input, reason) => {
    expect(() => parseGoDuration(input)).toThrow(GoDurationError);
    try {
      parseGoDuration(input);
    } catch (error) {
      expect((error as GoDurationError).reason).toBe(reason);
      expect((error as Error).message).toContain(JSON.stringify(input));
      expect((error as Error).message).toContain('"1h30m"');
    }
  });

  test("rejects durations beyond Go's int64 nanoseconds", () => {
    expect(() => parseGoDuration("3000000h")).toThrow("292-year");
  });
});

describe("formatGoDuration", () => {
  test.each([
    [0, "0s"],
    [5_400_000, "1h30m0s"],
    [1500, "1.5s"],
    [300, "300ms"],
    [60_000, "1m0s"],
    [-2000, "-2s"],
    [0.0015, "1.5µs"],
    [0.0005, "500ns"],
    [480_000.000001, "8m0.000000001s"],
    [3_600_000, "1h0m0s"],
    [7_205_000, "2h0m5s"],
  ])("%p ms is %p", (ms, text) => {
    expect(formatGoDuration(ms)).toBe(text);
    expect(parseGoDuration(text)).toBeCloseTo(ms, 9);
  });
});

// Go's own vectors: time/time_test.go durationTests, run by TestDurationString together with
// the negation of every positive one.
const GO_DURATION_STRING: [string, bigint][] = [
  ["0s", 0n],
  ["1ns", 1n],
  ["1.1µs", 1100n],
  ["2.2ms", 2_200_000n],
  ["3.3s", 3_300_000_000n],
  ["4m5s", 245_000_000_000n],
  ["4m5.001s", 245_001_000_000n],
  ["5h6m7.001s", 18_367_001_000_000n],
  ["8m0.000000001s", 480_000_000_001n],
  ["2562047h47m16.854775807s", (1n << 63n) - 1n],
  ["-2562047h47m16.854775808s", -(1n << 63n)],
];

describe("formatGoDurationNs (Go's TestDurationString)", () => {
  test.each(GO_DURATION_STRING)("%p", (text, ns) => {
    expect(formatGoDurationNs(ns)).toBe(text);
    if (ns > 0n) expect(formatGoDurationNs(-ns)).toBe(`-${text}`);
  });
});
