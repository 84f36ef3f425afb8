// What runmesh tells GitLab it can do (`info.features`). GitLab routes jobs and chooses cancel
// semantics from these, so a feature is true only once runmesh really does it. Each row names
// the issue that implements it; flip a row only together with that implementation and its tests.

export interface FeatureRow {
  supported: boolean;
  /** The issue that implements (or will implement) it. */
  issue: number;
  why: string;
}

export const FEATURES = {
  variables: { supported: true, issue: 2, why: "job variables exported to the shell" },
  // Per executor: the docker provider turns these on for docker runner entries (issue 9).
  image: { supported: false, issue: 9, why: "set by the docker executor's provider" },
  services: { supported: false, issue: 9, why: "set by the docker executor's provider" },
  // Per executor: the shell provider turns the artifact rows on (issue 10); others refuse such jobs.
  artifacts: { supported: false, issue: 10, why: "set by executors whose transfer stages exist (shell)" },
  cache: { supported: false, issue: 10, why: "set by the shell provider (local cache); others refuse" },
  fallback_cache_keys: { supported: false, issue: 10, why: "set by the shell provider" },
  // Per executor: its provider turns it on (libs/executors, the shell executor does).
  shared: {
    supported: false,
    issue: 8,
    why: "set by the executor providers whose builds_dir is shared (shell, ssh, custom)",
  },
  upload_multiple_artifacts: { supported: false, issue: 10, why: "set by the shell provider" },
  upload_raw_artifacts: { supported: false, issue: 10, why: "set by the shell provider" },
  session: { supported: false, issue: 0, why: "no session server yet" },
  terminal: { supported: false, issue: 0, why: "no session server yet" },
  refspecs: { supported: true, issue: 2, why: "get_sources fetches git_info.refspecs verbatim" },
  masking: { supported: true, issue: 3, why: "masked values, token prefixes, URL secrets → [MASKED]" },
  proxy: { supported: false, issue: 0, why: "no session proxy" },
  raw_variables: { supported: true, issue: 2, why: "raw variables are never expanded" },
  artifacts_exclude: { supported: false, issue: 10, why: "set by the shell provider" },
  multi_build_steps: { supported: true, issue: 2, why: "steps run in payload order" },
  trace_reset: { supported: true, issue: 2, why: "PUT 412 rewinds the trace to 0 and resends it" },
  trace_checksum: { supported: true, issue: 2, why: "crc32 of the bytes sent, in every final PUT" },
  trace_size: { supported: true, issue: 2, why: "bytesize of the bytes sent, in every final PUT" },
  vault_secrets: { supported: false, issue: 0, why: "no secret providers yet" },
  cancelable: { supported: true, issue: 2, why: "Job-Status canceled/failed aborts the job" },
  return_exit_code: { supported: true, issue: 2, why: "exit_code sent with script_failure" },
  service_variables: { supported: false, issue: 9, why: "set by the docker executor's provider" },
  service_multiple_aliases: { supported: false, issue: 9, why: "set by the docker executor's provider" },
  image_executor_opts: { supported: false, issue: 9, why: "set by the docker executor's provider" },
  service_executor_opts: { supported: false, issue: 9, why: "set by the docker executor's provider" },
  cancel_gracefully: {
    supported: true,
    issue: 2,
    why: "Job-Status canceling stops the script, runs after_script",
  },
  native_steps_integration: { supported: false, issue: 0, why: "no step-runner integration" },
  two_phase_job_commit: {
    supported: true,
    issue: 2,
    why: "PUT running right after pickup; pending keep-alive",
  },
  job_inputs: { supported: false, issue: 0, why: "job inputs are not interpolated" },
} as const satisfies Record<string, FeatureRow>;

export type FeatureName = keyof typeof FEATURES;

/** The `info.features` object: every key present, true only where runmesh does it. */
export function advertisedFeatures(): Record<FeatureName, boolean> {
  return Object.fromEntries(Object.entries(FEATURES).map(([k, row]) => [k, row.supported])) as Record<
    FeatureName,
    boolean
  >;
}
