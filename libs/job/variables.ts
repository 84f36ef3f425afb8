// A job's variable list as GitLab Runner builds it (runner-api.md (c) "Variables"): an ordered
// list where a later entry wins on lookup, expanded once, shell-like, against itself. Pure.
import { goExpand } from "../config/go-expand-env.ts";
import { FEATURE_FLAG_DEFAULTS, featureFlagDefault } from "./feature-flags.ts";
import type { JobPayload, JobVariable } from "./payload.ts";
import type { RunnerSettings } from "./runner-settings.ts";

/** One entry of the list. `value` of a file variable is its content; see `fileVariablePath`. */
export interface Variable {
  key: string;
  value: string;
  file?: boolean;
  raw?: boolean;
  masked?: boolean;
  public?: boolean;
}

export interface BuiltinVariableInputs {
  buildsDir: string;
  projectDir: string;
  concurrentId: number;
  concurrentProjectId: number;
  /** Seconds; runner_info.timeout after its ≤0 ⇒ 7200 rule. */
  jobTimeoutSeconds: number;
  shortToken: string;
  /** `environment = [...]` of the runner entry. */
  environment?: readonly string[];
  /** Resolved feature-flag values (runner config > job variable > default). */
  featureFlags?: Readonly<Record<string, boolean>>;
  /** Image name of the job, if any (CI_JOB_IMAGE). */
  imageName?: string;
  /** PEM content for CI_SERVER_TLS_CA_FILE (a file variable), if the runner has one. */
  tlsCaContent?: string;
  /** Client certificate and key (CI_SERVER_TLS_CERT_FILE / _KEY_FILE); only used as a pair. */
  tlsCertContent?: string;
  tlsKeyContent?: string;
  /** true for executors whose environment outlives the job (shell, ssh). */
  sharedEnvironment: boolean;
  version: string;
  revision: string;
  arch: string;
  /** running | success | failed | canceled | timedout. */
  jobStatus?: string;
}

/** `<build dir>.tmp`: where file variables and GITLAB_ENV live (RUNNER_TEMP_PROJECT_DIR). */
export function tmpProjectDir(projectDir: string): string {
  return `${projectDir}.tmp`;
}

export function fileVariablePath(projectDir: string, key: string): string {
  return `${tmpProjectDir(projectDir)}/${key}`;
}

/** `KEY=value` runner environment entries; entries without `=` are ignored as GitLab does. */
export function parseEnvironmentEntries(entries: readonly string[]): Variable[] {
  const out: Variable[] = [];
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    if (eq <= 0) continue;
    out.push({ key: entry.slice(0, eq), value: entry.slice(eq + 1) });
  }
  return out;
}

/**
 * The full, unexpanded list in GitLab Runner's order. Job variables named FF_* are left out:
 * they only feed feature-flag resolution, whose result comes first in the list.
 */
export function buildJobVariables(
  jobVariables: readonly JobVariable[],
  b: BuiltinVariableInputs,
): Variable[] {
  const list: Variable[] = [];
  for (const [name, on] of Object.entries(b.featureFlags ?? {})) list.push({ key: name, value: String(on) });
  if (b.imageName) list.push({ key: "CI_JOB_IMAGE", value: b.imageName });
  list.push({ key: "CI_RUNNER_SHORT_TOKEN", value: b.shortToken });
  list.push(...parseEnvironmentEntries(b.environment ?? []));
  list.push(
    { key: "CI_BUILDS_DIR", value: b.buildsDir },
    { key: "CI_PROJECT_DIR", value: b.projectDir },
    { key: "CI_CONCURRENT_ID", value: String(b.concurrentId) },
    { key: "CI_CONCURRENT_PROJECT_ID", value: String(b.concurrentProjectId) },
    { key: "CI_SERVER", value: "yes" },
    { key: "CI_JOB_STATUS", value: b.jobStatus ?? "running" },
    { key: "CI_JOB_TIMEOUT", value: String(b.jobTimeoutSeconds) },
  );
  if (b.tlsCaContent)
    list.push({ key: "CI_SERVER_TLS_CA_FILE", value: b.tlsCaContent, file: true, public: true });
  if (b.tlsCertContent && b.tlsKeyContent) {
    list.push(
      { key: "CI_SERVER_TLS_CERT_FILE", value: b.tlsCertContent, file: true, public: true },
      { key: "CI_SERVER_TLS_KEY_FILE", value: b.tlsKeyContent, file: true },
    );
  }
  for (const v of jobVariables) {
    // Known flags are already in the list, resolved (runner config first); GitLab drops only those.
    if (KNOWN_FLAGS.has(v.key)) continue;
    list.push({ key: v.key, value: v.value, file: v.file, raw: v.raw, masked: v.masked, public: v.public });
  }
  list.push({
    key: b.sharedEnvironment ? "CI_SHARED_ENVIRONMENT" : "CI_DISPOSABLE_ENVIRONMENT",
    value: "true",
  });
  list.push(
    { key: "CI_RUNNER_VERSION", value: b.version },
    { key: "CI_RUNNER_REVISION", value: b.revision },
    { key: "CI_RUNNER_EXECUTABLE_ARCH", value: b.arch },
  );
  list.push({ key: "RUNNER_TEMP_PROJECT_DIR", value: tmpProjectDir(b.projectDir) });
  return list;
}

const KNOWN_FLAGS = new Set(FEATURE_FLAG_DEFAULTS.map(([name]) => name));

export interface ResolvedFeatureFlags {
  /** Every known flag, in GitLab's order, then any other flag the runner config sets. */
  flags: Record<string, boolean>;
  /** GitLab's warnings for job-variable values that are not booleans. */
  warnings: string[];
}

/**
 * Feature flags as GitLab resolves them (build_settings.go populateFeatureFlags): runner config
 * wins over a variable (job variables and runner `environment`, expanded), which wins over the
 * default. An unparsable variable value keeps the default and gives a warning.
 */
export function resolveFeatureFlags(
  runnerFlags: Readonly<Record<string, boolean>> | undefined,
  jobVariables: readonly JobVariable[],
  environment: readonly string[] = [],
): ResolvedFeatureFlags {
  const flags: Record<string, boolean> = {};
  const warnings: string[] = [];
  const vars = expandVariables([...parseEnvironmentEntries(environment), ...jobVariables], "");
  for (const [name, def] of FEATURE_FLAG_DEFAULTS) {
    flags[name] = def;
    if (runnerFlags && Object.hasOwn(runnerFlags, name)) {
      flags[name] = runnerFlags[name]!;
      continue;
    }
    const raw = findVariable(vars, name)?.value ?? "";
    if (raw === "") continue;
    const on = parseGoBool(raw);
    if (on === undefined) warnings.push(`${name}: could not parse feature flag, expected bool, got ${raw}`);
    else flags[name] = on;
  }
  for (const [name, on] of Object.entries(runnerFlags ?? {})) if (!(name in flags)) flags[name] = on;
  return { flags, warnings };
}

/** `flag:value` for every flag whose resolved value differs from its default: the header line. */
export function nonDefaultFeatureFlags(flags: Readonly<Record<string, boolean>>): string {
  return Object.entries(flags)
    .filter(([name, on]) => on !== featureFlagDefault(name))
    .map(([name, on]) => `${name}:${on}`)
    .join(", ");
}

/**
 * The expanded values of the job's `masked: true` variables: what the trace masker needs before
 * the job starts. Expanded against the job's variables and the runner's `environment` (builtins
 * such as CI_PROJECT_DIR are not known yet and expand to ""). Empty values are left out.
 */
export function maskedValues(
  job: Pick<JobPayload, "variables">,
  runnerSettings: Pick<RunnerSettings, "environment">,
): string[] {
  const list: Variable[] = [
    ...parseEnvironmentEntries(runnerSettings.environment ?? []),
    ...job.variables.map((v) => ({ ...v })),
  ];
  const expanded = expandVariables(list, "");
  const out = new Set<string>();
  for (let i = 0; i < list.length; i++) {
    if (!list[i]!.masked) continue;
    const value = expanded[i]!.value;
    if (value !== "") out.add(value);
  }
  return [...out];
}

/** The last entry named `key` (later wins), or undefined. */
export function findVariable(list: readonly Variable[], key: string): Variable | undefined {
  for (let i = list.length - 1; i >= 0; i--) if (list[i]!.key === key) return list[i];
  return undefined;
}

/**
 * The value of `key` as expansion sees it: a file variable yields its file's path. Special
 * and positional names (`$*`, `$1`, …) are empty; `$$` is a literal `$`.
 */
export function lookupForExpansion(list: readonly Variable[], projectDir: string, key: string): string {
  if (key === "$") return "$";
  if (key.length === 1 && "*#@!?-0123456789".includes(key)) return "";
  const found = findVariable(list, key);
  if (!found) return "";
  return found.file ? fileVariablePath(projectDir, found.key) : found.value;
}

/** Every non-raw value expanded once against the unexpanded list (GitLab's Variables.Expand). */
export function expandVariables(list: readonly Variable[], projectDir: string): Variable[] {
  const lookup = (key: string) => lookupForExpansion(list, projectDir, key);
  return list.map((v) => (v.raw ? v : { ...v, value: expandValue(v.value, lookup) }));
}

/** GitLab Runner expands job variables with Go's os.Expand: the one implementation, in libs/config. */
export const expandValue = goExpand;

/** Go's strconv.ParseBool; undefined when it would be an error. */
export function parseGoBool(value: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(value)) return false;
  return undefined;
}
