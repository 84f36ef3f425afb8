// One [[runners]] entry. runnerEntrySchema reads it from config.toml (token included);
// runnerSettingsSchema is the same entry without any secret — the form a worker receives with a
// job, and the form it parses off the bus. Both apply GitLab Runner's defaults, and the output
// of either parses again to the same value.
import { z } from "zod";
import { autoscalerSchema, autoscalerSettingsSchema } from "./autoscaler-section.ts";
import { cacheSchema, cacheSettingsSchema } from "./cache-section.ts";
import {
  customSchema,
  dockerSchema,
  instanceSchema,
  kubernetesSchema,
  machineSchema,
  parallelsSchema,
  sshSchema,
  virtualboxSchema,
} from "./executor-sections.ts";
import { isHttpUrl, normalizeGitLabUrl } from "./gitlab-url.ts";
import {
  bool,
  durationMs,
  goDuration,
  int,
  oneOf,
  optStr,
  strArray,
  tomlDateTime,
} from "./schema-primitives.ts";

export const EXECUTORS = [
  "shell",
  "ssh",
  "parallels",
  "virtualbox",
  "docker",
  "docker-windows",
  "docker+machine",
  "docker-autoscaler",
  "kubernetes",
  "custom",
  "instance",
] as const;
export type Executor = (typeof EXECUTORS)[number];

export const SHELLS = ["bash", "sh", "powershell", "pwsh", "cmd"] as const;
export type Shell = (typeof SHELLS)[number];

/**
 * The shell GitLab Runner picks when `shell` is empty: bash on Unix for every executor (runmesh
 * runs on Linux), pwsh for Windows containers (the Windows default since GitLab Runner 14.0).
 */
export function defaultShell(executor: Executor): Shell {
  return executor === "docker-windows" ? "pwsh" : "bash";
}

/** Executors whose custom_build_dir is enabled unless configured (GitLab's advanced config reference). */
const CUSTOM_BUILD_DIR_BY_DEFAULT: ReadonlySet<Executor> = new Set([
  "kubernetes",
  "docker",
  "docker-windows",
  "docker+machine",
  "docker-autoscaler",
  "instance",
]);

export const RUNNER_DEFAULTS = {
  request_concurrency: 1,
  output_limit: 4096,
  unhealthy_requests_limit: 3,
  unhealthy_interval: "60m",
  job_status_final_update_retry_limit: 10,
} as const;

const table = { error: "a table" } as const;

const url = z
  .string({ error: `the GitLab instance URL, like "https://gitlab.example.com"` })
  .refine(isHttpUrl, {
    error: `an http:// or https:// URL of the GitLab instance, like "https://gitlab.example.com"`,
  })
  .transform(normalizeGitLabUrl);

const settingsFields = {
  name: optStr(),
  url,
  id: int().optional(),
  "tls-ca-file": optStr(),
  "tls-cert-file": optStr(),
  "tls-key-file": optStr(),

  limit: int().min(0, { error: "an integer ≥ 0 (0 means no limit)" }).default(0),
  output_limit: int().optional(),
  request_concurrency: int().optional(),
  unhealthy_requests_limit: int().optional(),
  unhealthy_interval: goDuration().optional(),
  job_status_final_update_retry_limit: int().optional(),
  strict_check_interval: bool().default(false),

  executor: z
    .string({ error: `an executor name (one of ${EXECUTORS.map((e) => JSON.stringify(e)).join(", ")})` })
    .pipe(oneOf(EXECUTORS)),
  shell: oneOf([...SHELLS, ""]).optional(),
  builds_dir: optStr(),
  cache_dir: optStr(),
  clone_url: optStr(),
  environment: strArray().optional(),
  pre_get_sources_script: optStr(),
  post_get_sources_script: optStr(),
  pre_build_script: optStr(),
  post_build_script: optStr(),
  debug_trace_disabled: bool().default(false),
  safe_directory_checkout: bool().optional(),
  custom_build_dir: z.object({ enabled: bool().optional() }, table).optional(),
  referees: z
    .object(
      {
        metrics: z
          .object(
            {
              prometheus_address: optStr(),
              query_interval: int().optional(),
              queries: strArray().optional(),
            },
            table,
          )
          .optional(),
      },
      table,
    )
    .optional(),
  feature_flags: z
    .record(z.string(), bool(), { error: "a table of feature flags set to true or false" })
    .optional(),
  instance: instanceSchema.optional(),
  ssh: sshSchema.optional(),
  docker: dockerSchema.optional(),
  parallels: parallelsSchema.optional(),
  virtualbox: virtualboxSchema.optional(),
  machine: machineSchema.optional(),
  kubernetes: kubernetesSchema.optional(),
  custom: customSchema.optional(),
  autoscaler: autoscalerSettingsSchema.optional(),
  cache: cacheSettingsSchema.optional(),
};

const secretFields = {
  token: z
    .string({ error: "the runner authentication token that registration wrote here" })
    .min(1, { error: "the runner authentication token that registration wrote here" }),
  token_obtained_at: tomlDateTime(),
  token_expires_at: tomlDateTime(),
  cache: cacheSchema.optional(),
  autoscaler: autoscalerSchema.optional(),
};

/** The keys of a runner entry a worker must never see (besides the cache credentials). */
export const RUNNER_SECRET_KEYS = ["token", "token_obtained_at", "token_expires_at"] as const;

type SettingsInput = z.output<z.ZodObject<typeof settingsFields>>;

/** GitLab Runner's effective values for what the entry leaves out (GetRequestConcurrency & co.). */
function applyRunnerDefaults<T extends SettingsInput>(r: T) {
  const unhealthy_interval = r.unhealthy_interval ?? RUNNER_DEFAULTS.unhealthy_interval;
  const positiveOr = (v: number | undefined, min: number, fallback: number) =>
    v === undefined || v < min ? fallback : v;
  return {
    ...r,
    shell: r.shell ? r.shell : defaultShell(r.executor),
    request_concurrency: positiveOr(r.request_concurrency, 1, RUNNER_DEFAULTS.request_concurrency),
    output_limit: positiveOr(r.output_limit, 1, RUNNER_DEFAULTS.output_limit),
    unhealthy_requests_limit: positiveOr(
      r.unhealthy_requests_limit,
      1,
      RUNNER_DEFAULTS.unhealthy_requests_limit,
    ),
    unhealthy_interval,
    unhealthy_interval_ms: durationMs(unhealthy_interval),
    job_status_final_update_retry_limit: positiveOr(
      r.job_status_final_update_retry_limit,
      1,
      RUNNER_DEFAULTS.job_status_final_update_retry_limit,
    ),
    custom_build_dir: {
      enabled: r.custom_build_dir?.enabled ?? CUSTOM_BUILD_DIR_BY_DEFAULT.has(r.executor),
    },
  };
}

/** A [[runners]] entry as written in config.toml, secrets included. */
export const runnerEntrySchema = z
  .object({ ...settingsFields, ...secretFields }, table)
  .transform((r) => applyRunnerDefaults(r));

/**
 * Keys without which GitLab Runner still loads the file but never asks GitLab for jobs for the
 * entry: an empty or whitespace token is skipped at every poll (RunnerCredentials.HasToken), an
 * empty url cannot make a request, an empty executor marks the entry unhealthy at once.
 */
export const POLLING_KEYS = ["token", "url", "executor"] as const;
export type PollingKey = (typeof POLLING_KEYS)[number];

const isBlank = (v: unknown) => v === undefined || (typeof v === "string" && v.trim() === "");

/** Which POLLING_KEYS an entry (raw or parsed) lacks. */
export function missingPollingKeys(entry: Partial<Record<PollingKey, unknown>>): PollingKey[] {
  return POLLING_KEYS.filter((key) => isBlank(entry[key]));
}

/** An entry that is not polled, and why. */
export interface SkippedRunnerEntry {
  skipped: PollingKey[];
}

const blankToUndefined = (v: unknown) => (isBlank(v) ? undefined : v);

/**
 * A [[runners]] entry of config.toml as GitLab Runner loads it: one lacking a POLLING_KEYS key
 * becomes a SkippedRunnerEntry (its other keys are still checked); the others are RunnerConfig.
 */
export const runnerFileEntrySchema = z
  .object(
    {
      ...settingsFields,
      ...secretFields,
      token: z.preprocess(blankToUndefined, secretFields.token.optional()),
      url: z.preprocess(blankToUndefined, settingsFields.url.optional()),
      executor: z.preprocess(blankToUndefined, settingsFields.executor.optional()),
    },
    table,
  )
  .transform((r): RunnerConfig | SkippedRunnerEntry => {
    const { token, url, executor } = r;
    if (token === undefined || url === undefined || executor === undefined) {
      return { skipped: missingPollingKeys(r) };
    }
    return applyRunnerDefaults({ ...r, token, url, executor });
  });

/**
 * A [[runners]] entry without its token, token dates, cache credentials and fleeting
 * plugin_config (cloud credentials live there; only the autoscaler needs it): what workers get.
 */
export const runnerSettingsSchema = z.object(settingsFields, table).transform((r) => applyRunnerDefaults(r));

/**
 * The settings as workers receive them with each job: runnerSettingsSchema plus the short token
 * that names the runner in paths and logs, as one object schema (an intersection of the two
 * parsed the settings twice and merged them: most of a job message's validation, issue 16).
 */
export const workerRunnerSettingsSchema = z
  .object({ ...settingsFields, short_token: z.string() }, table)
  .transform((r) => applyRunnerDefaults(r));

export type RunnerConfig = z.output<typeof runnerEntrySchema>;
export type RunnerSettings = z.output<typeof runnerSettingsSchema>;
