// A job's plan: everything decided from the payload and the runner entry's settings before the
// job runs, computed once and handed to both the trace pipeline (masks, timestamps, debug trace,
// output limit) and the stage machine (shell, flags, attempts, timeouts, warnings), so no two
// places resolve the same thing differently (GitLab Runner's build_settings.go does it once per
// build too). `placeJob` adds what depends on the concurrency slot: the project dir and the full
// variable list. Pure.
import { isAbsolute, join, relative, resolve } from "node:path";
import type { JobShell } from "../executors/executor.ts";
import type { BuildsLayout, ExecutorProvider } from "../executors/provider.ts";
import { type ParsedGitVariables, parseGitVariables } from "../git/git-variables.ts";
import { projectSlug, sharedProjectDir } from "./build-dir.ts";
import type { JobPayload } from "./payload.ts";
import type { RunnerSettings } from "./runner-settings.ts";
import { parseAttempts } from "./stage-settings.ts";
import {
  buildJobVariables,
  expandVariables,
  fileVariablePath,
  findVariable,
  maskedValues,
  nonDefaultFeatureFlags,
  parseEnvironmentEntries,
  parseGoBool,
  resolveFeatureFlags,
  tmpProjectDir,
  type Variable,
} from "./variables.ts";

const DEFAULT_JOB_TIMEOUT_S = 7200;
const DEFAULT_OUTPUT_LIMIT_KIB = 4096;

export interface JobPlan {
  job: JobPayload;
  settings: RunnerSettings;
  /** The runner entry's `executor`, as the job log names it. */
  executorName: string;
  shortToken: string;
  shell: JobShell;
  /** A setting that makes the job impossible (a shell the executor lacks): failed before it runs. */
  configError?: string;
  layout: BuildsLayout;
  /** Resolved flags: runner config > job variable > GitLab's default, in GitLab's order. */
  featureFlags: Readonly<Record<string, boolean>>;
  /** The header's `feature flags:` text, "" when every flag has its default. */
  nonDefaultFlags: string;
  masking: { phrases: string[]; tokenPrefixes: string[]; maskAllDefaultTokens: boolean };
  timestamps: boolean;
  /** CI_DEBUG_TRACE / CI_DEBUG_SERVICES, unless the runner disables them. */
  debugTrace: boolean;
  attempts: { getSources: number; artifactDownload: number; restoreCache: number };
  timeouts: {
    /** runner_info.timeout, or GitLab's 7200 s when it is ≤ 0. */
    jobSeconds: number;
    /** RUNNER_SCRIPT_TIMEOUT / RUNNER_AFTER_SCRIPT_TIMEOUT as written; checked against the job's time left when the scripts start. */
    script: string;
    afterScript: string;
  };
  /** AFTER_SCRIPT_IGNORE_ERRORS (default true: an after_script failure does not fail the job). */
  afterScriptIgnoreErrors: boolean;
  outputLimitBytes: number;
  /** Settings warnings for the job log, in GitLab's order around the git ones (see placeJob). */
  warnings: { flags: string[]; settings: string[] };
}

export interface PlanContext {
  /** What the executor decides: its shells and default shell. */
  executor: Pick<ExecutorProvider, "defaultShell" | "shells">;
  layout: BuildsLayout;
}

/** The job's output cap: `output_limit` KiB of the runner entry, GitLab's 4096 KiB by default. */
export function outputLimitBytes(settings: Pick<RunnerSettings, "output_limit">): number {
  const kib =
    typeof settings.output_limit === "number" && settings.output_limit > 0
      ? settings.output_limit
      : DEFAULT_OUTPUT_LIMIT_KIB;
  return kib * 1024;
}

export function planJob(job: JobPayload, settings: RunnerSettings, ctx: PlanContext): JobPlan {
  const resolved = resolveFeatureFlags(settings.feature_flags, job.variables, settings.environment);
  const flag = (name: string) => resolved.flags[name] === true;
  // User settings read from the job's own variables and the runner's environment (builtins such
  // as CI_PROJECT_DIR are not known before the slot is taken, and no such setting refers to them).
  const early = expandVariables(
    [...parseEnvironmentEntries(settings.environment ?? []), ...job.variables],
    "",
  );
  const value = (key: string) => findVariable(early, key)?.value ?? "";
  const settingsWarnings: string[] = [];
  const attempts = (name: string) => {
    const parsed = parseAttempts(name, value(name));
    if (parsed.warning) settingsWarnings.push(parsed.warning);
    return parsed.value;
  };
  const getSources = attempts("GET_SOURCES_ATTEMPTS");
  const artifactDownload = attempts("ARTIFACT_DOWNLOAD_ATTEMPTS");
  const restoreCache = attempts("RESTORE_CACHE_ATTEMPTS");
  // Only the docker executor retries sections ("No such container"); validated all the same.
  attempts("EXECUTOR_JOB_SECTION_ATTEMPTS");

  const debugAsked = parseGoBool(value("CI_DEBUG_TRACE")) === true;
  const debugServices = parseGoBool(value("CI_DEBUG_SERVICES")) === true;
  if (settings.debug_trace_disabled) {
    if (debugAsked) settingsWarnings.push("CI_DEBUG_TRACE: usage is disabled on this Runner");
    if (debugServices) settingsWarnings.push("CI_DEBUG_SERVICES: usage is disabled on this Runner");
  }

  const shell = (settings.shell || ctx.executor.defaultShell) as JobShell;
  const executorName = settings.executor ?? "shell";
  const configError = ctx.executor.shells.includes(shell)
    ? undefined
    : `shell ${JSON.stringify(shell)} is not supported by the runmesh ${executorName} executor; use shell = ${ctx.executor.shells.map((s) => JSON.stringify(s)).join(" or ")}`;

  return {
    job,
    settings,
    executorName,
    shortToken: settings.short_token ?? "",
    shell,
    configError,
    layout: ctx.layout,
    featureFlags: resolved.flags,
    nonDefaultFlags: nonDefaultFeatureFlags(resolved.flags),
    masking: {
      phrases: maskedValues(job, settings),
      tokenPrefixes: job.features.token_mask_prefixes,
      maskAllDefaultTokens: flag("FF_MASK_ALL_DEFAULT_TOKENS"),
    },
    timestamps: flag("FF_TIMESTAMPS"),
    debugTrace: !settings.debug_trace_disabled && (debugAsked || debugServices),
    attempts: { getSources, artifactDownload, restoreCache },
    timeouts: {
      jobSeconds: job.runner_info.timeout > 0 ? job.runner_info.timeout : DEFAULT_JOB_TIMEOUT_S,
      script: value("RUNNER_SCRIPT_TIMEOUT"),
      afterScript: value("RUNNER_AFTER_SCRIPT_TIMEOUT"),
    },
    afterScriptIgnoreErrors: parseGoBool(value("AFTER_SCRIPT_IGNORE_ERRORS")) !== false,
    outputLimitBytes: outputLimitBytes(settings),
    warnings: { flags: resolved.warnings, settings: settingsWarnings },
  };
}

/** The concurrency slot the job holds (CI_CONCURRENT_ID, CI_CONCURRENT_PROJECT_ID). */
export interface SlotIds {
  concurrentId: number;
  concurrentProjectId: number;
}

export interface PlacementInputs {
  version: string;
  revision: string;
  /** `<GOOS>/<GOARCH>` (CI_RUNNER_EXECUTABLE_ARCH). */
  arch: string;
  /** Contents of the runner's tls-ca-file / tls-cert-file / tls-key-file: file variables. */
  tlsCaContent?: string;
  tlsCertContent?: string;
  tlsKeyContent?: string;
}

/** The job placed in its slot: where it runs and with which variables. */
export interface Placement {
  projectDir: string;
  tmpDir: string;
  /** Expanded, with CI_JOB_STATUS=running. */
  variables: Variable[];
  /** The same list with another CI_JOB_STATUS (after_script). */
  variablesFor(jobStatus: string): Variable[];
  /** GIT_CLONE_PATH refused (custom_build_dir off, or outside builds_dir). */
  clonePathError?: string;
  git: ParsedGitVariables;
  /** Paths of the TLS file variables, for git. */
  tls: { caFile?: string; certFile?: string; keyFile?: string };
}

/** The project dir in the executor's layout: shared dirs carry the short token and slot. */
export function defaultProjectDir(plan: JobPlan, slot: SlotIds): string {
  const slug = projectSlug(plan.job.git_info.repo_url, plan.job.job_info.project_id);
  const { layout } = plan;
  return layout.sharedBuildsDir
    ? sharedProjectDir(layout.buildsDir, plan.shortToken, slot.concurrentProjectId, slug)
    : join(layout.buildsDir, slug);
}

export function placeJob(plan: JobPlan, slot: SlotIds, inputs: PlacementInputs): Placement {
  const { job, settings, layout } = plan;
  const variablesAt = (dir: string, jobStatus: string): Variable[] =>
    expandVariables(
      buildJobVariables(job.variables, {
        buildsDir: layout.buildsDir,
        projectDir: dir,
        concurrentId: slot.concurrentId,
        concurrentProjectId: slot.concurrentProjectId,
        jobTimeoutSeconds: plan.timeouts.jobSeconds,
        shortToken: plan.shortToken,
        environment: settings.environment,
        featureFlags: plan.featureFlags,
        imageName: job.image.name,
        tlsCaContent: inputs.tlsCaContent,
        tlsCertContent: inputs.tlsCertContent,
        tlsKeyContent: inputs.tlsKeyContent,
        // Executors whose builds dir outlives the job (shell, ssh) share their environment.
        sharedEnvironment: layout.sharedBuildsDir,
        version: inputs.version,
        revision: inputs.revision,
        arch: inputs.arch,
        jobStatus,
      }),
      dir,
    );
  let projectDir = defaultProjectDir(plan, slot);
  let variables = variablesAt(projectDir, "running");

  // GIT_CLONE_PATH (already expanded once) replaces the project directory, inside builds_dir.
  const clonePath = findVariable(variables, "GIT_CLONE_PATH")?.value ?? "";
  let clonePathError: string | undefined;
  if (clonePath !== "") {
    const rel = relative(layout.buildsDir, resolve(layout.buildsDir, clonePath));
    if (!settings.custom_build_dir?.enabled) {
      clonePathError = "setting GIT_CLONE_PATH is not allowed, enable `custom_build_dir` feature";
    } else if (!isAbsolute(clonePath) || rel.startsWith("..") || isAbsolute(rel)) {
      clonePathError = `the GIT_CLONE_PATH=${JSON.stringify(clonePath)} has to be within ${JSON.stringify(layout.buildsDir)}`;
    } else {
      projectDir = resolve(clonePath);
      variables = variablesAt(projectDir, "running");
    }
  }
  const fileVar = (key: string) =>
    findVariable(variables, key) ? fileVariablePath(projectDir, key) : undefined;
  const dir = projectDir;
  return {
    projectDir,
    tmpDir: tmpProjectDir(projectDir),
    variables,
    variablesFor: (jobStatus) => variablesAt(dir, jobStatus),
    clonePathError,
    git: parseGitVariables(variables, { allowGitFetch: job.allow_git_fetch, depth: job.git_info.depth }),
    tls: {
      caFile: fileVar("CI_SERVER_TLS_CA_FILE"),
      certFile: fileVar("CI_SERVER_TLS_CERT_FILE"),
      keyFile: fileVar("CI_SERVER_TLS_KEY_FILE"),
    },
  };
}
