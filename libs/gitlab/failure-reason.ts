// Which failure_reason the final PUT may carry: GitLab negotiates them per job through
// features.failure_reasons (runner-api.md (c) "Failure reasons sent in the final PUT").

/** Sent verbatim whatever the job lists. */
const ALWAYS_SAFE = new Set(["script_failure", "runner_system_failure", "job_execution_timeout"]);

/** GitLab Runner's compatibility fallbacks for servers that do not know a newer reason. */
const COMPAT: Record<string, string> = {
  image_pull_failure: "runner_system_failure",
  runner_configuration_error: "script_failure",
  runner_external_dependency_failure: "runner_system_failure",
};

export function negotiateFailureReason(reason: string, supported: readonly string[] | undefined): string {
  if (ALWAYS_SAFE.has(reason) || supported?.includes(reason)) return reason;
  const fallback = COMPAT[reason];
  if (fallback && (ALWAYS_SAFE.has(fallback) || supported?.includes(fallback))) return fallback;
  return "unknown_failure";
}
