// Which runner features (`info.features` of jobs/request) a job needs before GitLab hands it out:
// GitLab's `Ci::Build::RUNNER_FEATURES` (app/models/ci/build.rb) and `supported_runner?`. A runner
// that lacks one gets nothing for that job: RegisterJobService drops it with `runner_unsupported`
// and looks at the next one. Pure, so the table test reads exactly GitLab's predicates.
import type { JobSpec } from "./job-payload.ts";

type Payload = Record<string, unknown>;
type Entry = Record<string, unknown>;

function entries(value: unknown): Entry[] {
  return Array.isArray(value) ? (value.filter((v) => typeof v === "object" && v !== null) as Entry[]) : [];
}

function nonEmpty(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0;
}

const RUNNER_FEATURES: Record<string, (spec: JobSpec, payload: Payload) => boolean> = {
  // publishes_artifacts_reports?: an artifacts entry of a report type (not the plain archive).
  upload_multiple_artifacts: (_s, p) =>
    entries(p.artifacts).some((a) => a.artifact_type !== undefined && a.artifact_type !== "archive"),
  // merge_request_ref?: the job runs on refs/merge-requests/<iid>/head.
  refspecs: (_s, p) => {
    const git = (p.git_info ?? {}) as { ref?: unknown; refspecs?: unknown };
    const refs = [git.ref, ...(Array.isArray(git.refspecs) ? git.refspecs : [])];
    return refs.some((r) => typeof r === "string" && r.includes("refs/merge-requests/"));
  },
  artifacts_exclude: (_s, p) => entries(p.artifacts).some((a) => nonEmpty(a.exclude)),
  // multi_build_steps?: a `release:` step.
  multi_build_steps: (_s, p) => entries(p.steps).some((s) => s.name === "release"),
  // exit_codes_defined?: `allow_failure: exit_codes:` (kept on the build, not in the payload).
  return_exit_code: (s) => (s.allowFailureExitCodes?.length ?? 0) > 0,
  fallback_cache_keys: (_s, p) => entries(p.cache).some((c) => nonEmpty(c.fallback_keys)),
};

/** The feature names a job needs, GitLab's predicates first, then what the spec adds (EE's vault_secrets…). */
export function requiredRunnerFeatures(spec: JobSpec, payload: Payload): string[] {
  const needed = Object.entries(RUNNER_FEATURES)
    .filter(([, needs]) => needs(spec, payload))
    .map(([name]) => name);
  for (const extra of spec.requiredFeatures ?? []) if (!needed.includes(extra)) needed.push(extra);
  return needed;
}

/** GitLab's `supported_runner?`: every needed feature is truthy in the runner's info.features. */
export function missingRunnerFeatures(
  needed: readonly string[],
  features: Record<string, unknown>,
): string[] {
  return needed.filter((name) => !features[name]);
}
