import { expect, test } from "bun:test";
import { negotiateFailureReason } from "./failure-reason.ts";

test.each([
  ["script_failure", [], "script_failure"],
  ["runner_system_failure", undefined, "runner_system_failure"],
  ["job_execution_timeout", [], "job_execution_timeout"],
  ["runner_interrupted", ["runner_interrupted"], "runner_interrupted"],
  ["runner_interrupted", ["script_failure"], "unknown_failure"],
  ["job_canceled", [], "unknown_failure"],
  ["image_pull_failure", [], "runner_system_failure"],
  ["image_pull_failure", ["image_pull_failure"], "image_pull_failure"],
  ["runner_configuration_error", [], "script_failure"],
])("%s with server list %p is sent as %s", (reason, list, expected) => {
  expect(negotiateFailureReason(reason, list as string[] | undefined)).toBe(expected);
});
