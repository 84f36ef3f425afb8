import { describe, expect, test } from "bun:test";
import {
  executionTimeoutMessage,
  parseAttempts,
  parseStageTimeout,
  stageRetryDelayMs,
} from "./stage-settings.ts";

describe("parseAttempts", () => {
  test.each([
    ["", 1, undefined],
    ["3", 3, undefined],
    ["10", 10, undefined],
    ["11", 10, "GET_SOURCES_ATTEMPTS: number of attempts out of the range [1, 10], clamping to: 10"],
    ["0", 1, "GET_SOURCES_ATTEMPTS: number of attempts out of the range [1, 10], clamping to: 1"],
    ["-4", 1, "GET_SOURCES_ATTEMPTS: number of attempts out of the range [1, 10], clamping to: 1"],
    ["2.5", 1, 'GET_SOURCES_ATTEMPTS: expected int got "2.5", using default value: 1'],
    ["many", 1, 'GET_SOURCES_ATTEMPTS: expected int got "many", using default value: 1'],
  ])("%j ⇒ %p", (raw, value, warning) => {
    expect(parseAttempts("GET_SOURCES_ATTEMPTS", raw)).toEqual(warning ? { value, warning } : { value });
  });
});

describe("stageRetryDelayMs", () => {
  test("exponential: 5 s first, growing by 1.5 with jitter, capped at 5 min", () => {
    expect(stageRetryDelayMs(0, true, () => 1)).toBe(5000);
    expect(stageRetryDelayMs(1, true, () => 1)).toBe(7500);
    expect(stageRetryDelayMs(1, true, () => 0)).toBe(5000);
    expect(stageRetryDelayMs(3, true, () => 1)).toBe(16875);
    expect(stageRetryDelayMs(50, true, () => 0.5)).toBe(300_000);
  });
  test("without the flag: 1–5 s", () => {
    expect(stageRetryDelayMs(0, false, () => 0)).toBe(1000);
    expect(stageRetryDelayMs(7, false, () => 1)).toBe(5000);
  });
});

describe("parseStageTimeout", () => {
  const hour = 3_600_000;
  test.each([
    ["", 300_000, undefined],
    ["0", 300_000, undefined],
    ["10m", 600_000, undefined],
    ["1h20m", 4_800_000, undefined],
    ["soon", 300_000, "Ignoring malformed RUNNER_AFTER_SCRIPT_TIMEOUT timeout: soon"],
    ["-5m", 300_000, "Ignoring relative RUNNER_AFTER_SCRIPT_TIMEOUT timeout: -5m"],
    [
      "3h",
      300_000,
      "RUNNER_AFTER_SCRIPT_TIMEOUT timeout: 3h is longer than job timeout. Setting to job timeout",
    ],
  ])("%j ⇒ %p", (raw, value, warning) => {
    const parsed = parseStageTimeout("RUNNER_AFTER_SCRIPT_TIMEOUT", raw, 300_000, 2 * hour);
    expect(parsed).toEqual(warning ? { value, warning } : { value });
  });
  test("RUNNER_SCRIPT_TIMEOUT has no default: the job's remaining time applies", () => {
    expect(parseStageTimeout("RUNNER_SCRIPT_TIMEOUT", "", undefined, hour)).toEqual({ value: undefined });
  });
  test("GitLab's timeout message carries a Go duration", () => {
    expect(executionTimeoutMessage(3600)).toBe("execution took longer than 1h0m0s seconds");
  });
});
