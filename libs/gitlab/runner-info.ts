// The `info` object runmesh sends on jobs/request, verify and every job PUT. GitLab routes jobs
// and picks cancel semantics from `features`, so every key is always serialised, false included
// (a missing `cancel_gracefully` makes GitLab cancel hard). Which features are true is decided
// by the caller (libs/gitlab/advertised-features.ts); this module only serialises faithfully.

/** Every feature key GitLab Runner 19.x reports, in its order. */
export const ALL_FEATURE_KEYS = [
  "variables",
  "image",
  "services",
  "artifacts",
  "cache",
  "fallback_cache_keys",
  "shared",
  "upload_multiple_artifacts",
  "upload_raw_artifacts",
  "session",
  "terminal",
  "refspecs",
  "masking",
  "proxy",
  "raw_variables",
  "artifacts_exclude",
  "multi_build_steps",
  "trace_reset",
  "trace_checksum",
  "trace_size",
  "vault_secrets",
  "cancelable",
  "return_exit_code",
  "service_variables",
  "service_multiple_aliases",
  "image_executor_opts",
  "service_executor_opts",
  "cancel_gracefully",
  "native_steps_integration",
  "two_phase_job_commit",
  "job_inputs",
] as const;

export type FeatureKey = (typeof ALL_FEATURE_KEYS)[number];

export interface RunnerInfo {
  name: string;
  version: string;
  revision: string;
  platform: string;
  architecture: string;
  executor: string;
  shell: string;
  features: Record<FeatureKey, boolean>;
  config: { gpus: string };
  labels?: Record<string, string>;
}

export interface RunnerInfoInput {
  version: string;
  revision: string;
  executor: string;
  shell: string;
  features: Partial<Record<FeatureKey, boolean>>;
  /** Runner labels; omitted from the JSON when empty, as GitLab Runner does. */
  labels?: Record<string, string>;
}

/** GitLab only displays name/version; runmesh reports its own identity, not "gitlab-runner". */
export const RUNNER_NAME = "runmesh";

export function buildRunnerInfo(input: RunnerInfoInput): RunnerInfo {
  const features = Object.fromEntries(ALL_FEATURE_KEYS.map((k) => [k, input.features[k] === true])) as Record<
    FeatureKey,
    boolean
  >;
  const info: RunnerInfo = {
    name: RUNNER_NAME,
    version: input.version,
    revision: input.revision,
    platform: goPlatform(process.platform),
    architecture: goArchitecture(process.arch),
    executor: input.executor,
    shell: input.shell,
    features,
    config: { gpus: "" },
  };
  if (input.labels && Object.keys(input.labels).length > 0) info.labels = { ...input.labels };
  return info;
}

/** GOOS spelling, which GitLab shows and some tooling matches on. */
export function goPlatform(platform: string): string {
  return platform === "win32" ? "windows" : platform;
}

/** GOARCH spelling of Node's `process.arch`. */
export function goArchitecture(arch: string): string {
  switch (arch) {
    case "x64":
      return "amd64";
    case "ia32":
      return "386";
    default:
      // arm64, arm, s390x and riscv64 are spelled the same in both worlds.
      return arch;
  }
}
