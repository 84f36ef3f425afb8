// What the job model needs from a [[runners]] entry, in config.toml's own key names. Structural:
// libs/config's runnerSettingsSchema output fits it. The runner token never reaches a worker, so
// the caller fills in `short_token` (helpers.ShortenToken of the token) instead.

export interface RunnerSettings {
  name?: string;
  /** Filled in by the caller: the short token names the runner in the log, paths and variables. */
  short_token?: string;
  url?: string;
  executor?: string;
  shell?: string;
  builds_dir?: string;
  cache_dir?: string;
  clone_url?: string;
  /** `KEY=value` entries added to every job's variables. */
  environment?: readonly string[];
  pre_get_sources_script?: string;
  post_get_sources_script?: string;
  pre_build_script?: string;
  post_build_script?: string;
  debug_trace_disabled?: boolean;
  /** KiB. */
  output_limit?: number;
  feature_flags?: Readonly<Record<string, boolean>>;
  custom_build_dir?: { enabled?: boolean };
  "tls-ca-file"?: string;
  "tls-cert-file"?: string;
  "tls-key-file"?: string;
}
