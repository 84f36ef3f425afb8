import { describe, expect, test } from "bun:test";
import {
  decidePatchResult,
  decideUpdateResult,
  formatContentRange,
  isCancelRequested,
  parseUpdateInterval,
  rangeEndOffset,
} from "./job-responses.ts";

const h = (jobStatus?: string) => new Headers(jobStatus === undefined ? {} : { "Job-Status": jobStatus });

describe("decideUpdateResult follows GitLab Runner's order", () => {
  test.each<[number, string | undefined, string]>([
    [200, undefined, "succeeded"],
    [200, "running", "succeeded"],
    [200, "canceling", "succeeded"],
    [200, "canceled", "abort"],
    [200, "failed", "abort"],
    [202, "canceled", "abort"],
    [202, undefined, "accepted"],
    [412, undefined, "trace_validation_failed"],
    [412, "failed", "abort"],
    [403, undefined, "abort"],
    [403, "running", "abort"],
    [404, undefined, "abort"],
    [400, undefined, "failed"],
    [409, undefined, "failed"],
    [500, undefined, "failed"],
    [503, undefined, "failed"],
    [501, undefined, "failed"],
  ])("%d with Job-Status %p → %s", (status, jobStatus, expected) => {
    expect(decideUpdateResult(status, h(jobStatus))).toBe(expected as never);
  });
});

describe("decidePatchResult follows GitLab Runner's order", () => {
  test.each<[number, string | undefined, string]>([
    [202, undefined, "succeeded"],
    [202, "running", "succeeded"],
    [202, "canceling", "succeeded"],
    [202, "canceled", "abort"],
    [202, "failed", "abort"],
    [403, undefined, "abort"],
    [404, undefined, "not_found"],
    [404, "canceled", "abort"],
    [416, undefined, "range_mismatch"],
    [200, undefined, "failed"],
    [400, undefined, "failed"],
    [500, undefined, "failed"],
  ])("%d with Job-Status %p → %s", (status, jobStatus, expected) => {
    expect(decidePatchResult(status, h(jobStatus))).toBe(expected as never);
  });
});

describe("Job-Status canceling", () => {
  test.each<[string | undefined, boolean]>([
    ["canceling", true],
    ["Canceling", true],
    ["canceled", false],
    ["running", false],
    [undefined, false],
  ])("%p → cancel requested %p", (jobStatus, expected) => {
    expect(isCancelRequested(h(jobStatus))).toBe(expected);
  });
});

describe("parseUpdateInterval", () => {
  test.each<[string | null, number | undefined]>([
    ["3", 3],
    ["60", 60],
    [" 30 ", 30],
    ["900", 900],
    ["901", 900],
    ["86400", 900],
    ["0", undefined],
    ["-5", undefined],
    ["", undefined],
    [null, undefined],
    ["1.5", undefined],
    ["abc", undefined],
    ["10s", undefined],
  ])("%p → %p", (value, expected) => {
    expect(parseUpdateInterval(value)).toBe(expected);
  });
});

describe("rangeEndOffset reads the number after the dash of Range: 0-<n>", () => {
  test.each<[string | null, number]>([
    ["0-100", 100],
    ["0-0", 0],
    [" 0-42 ", 42],
    ["bytes 0-42", 42],
    ["", 0],
    [null, 0],
    ["0-", 0],
    ["0-x", 0],
    ["1-2-3", 0],
  ])("%p → %d", (range, expected) => {
    expect(rangeEndOffset(range)).toBe(expected);
  });
});

describe("formatContentRange", () => {
  test.each<[number, number, string]>([
    [0, 1, "0-0"],
    [0, 100, "0-99"],
    [100, 50, "100-149"],
    [1048576, 1048576, "1048576-2097151"],
  ])("start %d, %d bytes → %s (inclusive end, no unit)", (start, len, expected) => {
    expect(formatContentRange(start, len)).toBe(expected);
  });
  test("refuses an empty patch", () => {
    expect(() => formatContentRange(5, 0)).toThrow(/empty/);
  });
});
