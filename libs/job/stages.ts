// The build stage machine (runner-api.md (c) "Build stages", "Stage attempts", "Timeouts",
// "after_script specifics", "Cancel vs abort"; GitLab Runner's common/build.go): which stage runs
// after which outcome, with which signal, and how the job ends. Scripts come from libs/shell and
// libs/git, processes from the executor; this file only decides and writes the runner's lines.

import { isAbsolute, relative, resolve } from "node:path";
import type { Executor, StageResult } from "../executors/executor.ts";
import { ExecutorError } from "../executors/executor.ts";
import {
  clearWorktreeScript,
  GitSourcesConfigError,
  getSourcesInputFromJob,
  getSourcesScript,
} from "../git/get-sources.ts";
import { parseGitVariables } from "../git/git-variables.ts";
import {
  afterScript,
  cleanupFileVariablesScript,
  prepareScript,
  type ScriptEnv,
  userScript,
  writeExports,
} from "../shell/stage-scripts.ts";
import { acquireBuildSlot, type BuildSlot, projectSlug, sharedProjectDir } from "./build-dir.ts";
import { JobLog, type JobTraceSink } from "./job-log.ts";
import type { JobPayload } from "./payload.ts";
import type { RunnerSettings } from "./runner-settings.ts";
import { stageKind } from "./stage-kind.ts";
import {
  executionTimeoutMessage,
  parseAttempts,
  parseStageTimeout,
  stageRetryDelayMs,
} from "./stage-settings.ts";
import {
  buildJobVariables,
  expandValue,
  expandVariables,
  fileVariablePath,
  findVariable,
  lookupForExpansion,
  nonDefaultFeatureFlags,
  parseGoBool,
  resolveFeatureFlags,
  tmpProjectDir,
  type Variable,
} from "./variables.ts";

export type FailureReason =
  | "script_failure"
  | "runner_system_failure"
  | "job_execution_timeout"
  | "job_canceled"
  | "runner_configuration_error";

export interface JobResult {
  state: "success" | "failed";
  failureReason?: FailureReason;
  exitCode?: number;
  message: string;
}

export interface StageMachineInput {
  job: JobPayload;
  settings: RunnerSettings;
  executor: Executor;
  log: JobTraceSink;
  /** Graceful cancel: stops the user script; after_script and on-failure stages still run. */
  cancelSignal: AbortSignal;
  /** Hard abort: stops everything, nothing else runs. */
  abortSignal: AbortSignal;
  systemId: string;
  /** The builds root, already resolved (builds_dir or the worker's default). */
  buildsDir: string;
  version: string;
  revision: string;
  /** GOARCH-style name ("amd64"); CI_RUNNER_EXECUTABLE_ARCH is `<os>/<arch>`. */
  arch: string;
  /** GOOS-style name; default "linux". */
  os?: string;
  /** Content of the runner's tls-ca-file: the file variable CI_SERVER_TLS_CA_FILE. */
  tlsCaContent?: string;
  /** Content of tls-cert-file / tls-key-file: CI_SERVER_TLS_CERT_FILE / _KEY_FILE (both or none). */
  tlsCertContent?: string;
  tlsKeyContent?: string;
  /** Pause between prepare_executor attempts (GitLab: 3 s). */
  prepareRetryDelayMs?: number;
  /** Pause before stage retry `retry` (0-based); default GitLab's backoff (stageRetryDelayMs). */
  stageRetryDelayMs?: (retry: number, exponential: boolean) => number;
  /** Takes the job's concurrency slot; default: lock files under buildsDir. */
  acquireSlot?: (o: { buildsDir: string; shortToken: string; slug: string }) => Promise<BuildSlot>;
}

const DEFAULT_JOB_TIMEOUT_S = 7200;
const DEFAULT_AFTER_SCRIPT_TIMEOUT_MS = 5 * 60_000;
const PREPARE_ATTEMPTS = 3;
const TIMEOUT_DOCS =
  "https://docs.gitlab.com/ci/runners/configure_runners/#set-script-and-after_script-timeouts";
const SHELL_PROFILE_DOCS = "https://docs.gitlab.com/runner/shells/#shell-profile-loading";

/** A stage's end as the machine sees it. */
type Outcome =
  | { kind: "ok" }
  | { kind: "skipped" }
  | { kind: "exit"; exitCode: number }
  | { kind: "stopped" }
  | { kind: "error"; error: JobError };

/** The error that decides the job's end (the first one, by GitLab's priority). */
interface JobError {
  reason: FailureReason;
  message: string;
  exitCode?: number;
}

export async function runStages(input: StageMachineInput): Promise<JobResult> {
  const { job, settings, executor } = input;
  const log = new JobLog(input.log, job.features.trace_sections);
  const shortToken = settings.short_token ?? "";
  const resolved = resolveFeatureFlags(settings.feature_flags, job.variables, settings.environment);
  const ff = (name: string) => resolved.flags[name] === true;

  log.println(`Running with runmesh ${input.version} (${input.revision})`);
  log.println(`  on ${settings.name ?? ""} ${shortToken}, system ID: ${input.systemId}`);
  const flagInfo = nonDefaultFeatureFlags(resolved.flags);
  if (flagInfo !== "") log.println(`  feature flags: ${flagInfo}`);

  const jobTimeoutS = job.runner_info.timeout > 0 ? job.runner_info.timeout : DEFAULT_JOB_TIMEOUT_S;
  const jobDeadline = new Deadline(jobTimeoutS * 1000);
  // A cancel before the user script has its own context stops the whole job, as in GitLab
  // (the trace's cancel function is the job's until executeUserScripts replaces it).
  const earlyCancel = new AbortController();
  let scriptPhase = false;
  const onCancel = () => {
    if (!scriptPhase) earlyCancel.abort();
  };
  input.cancelSignal.addEventListener("abort", onCancel, { once: true });
  if (input.cancelSignal.aborted) earlyCancel.abort();
  const jobSignal = AbortSignal.any([input.abortSignal, jobDeadline.signal, earlyCancel.signal]);
  const timers: Deadline[] = [jobDeadline];
  let slot: BuildSlot | undefined;

  const end = (result: JobResult): JobResult => {
    if (result.state === "success") log.info("Job succeeded");
    else if (result.failureReason === "runner_system_failure")
      log.error(`Job failed (system failure): ${result.message}`);
    else log.error(`Job failed: ${result.message}`);
    return result;
  };
  const fail = (e: JobError): JobResult =>
    end({ state: "failed", failureReason: e.reason, exitCode: e.exitCode, message: e.message });
  const timedOut: JobError = {
    reason: "job_execution_timeout",
    message: executionTimeoutMessage(jobTimeoutS),
  };
  const canceled: JobError = { reason: "job_canceled", message: "canceled" };
  /** Why the job context stopped: abort and cancel are "canceled", the deadline a timeout. */
  const jobStopReason = (): JobError =>
    jobDeadline.signal.aborted && !input.abortSignal.aborted && !earlyCancel.signal.aborted
      ? timedOut
      : canceled;

  try {
    // Settings errors, printed once before anything runs (GitLab's printSettingErrors).
    const warnings = [...resolved.warnings];
    const shell = settings.shell ?? "bash";
    if (shell !== "bash" && shell !== "sh") {
      return fail({
        reason: "runner_configuration_error",
        message: `shell ${JSON.stringify(shell)} is not supported by the runmesh shell executor; use shell = "bash" or "sh"`,
      });
    }

    const slug = projectSlug(job.git_info.repo_url, job.job_info.project_id);
    slot = await (input.acquireSlot ?? acquireBuildSlot)({ buildsDir: input.buildsDir, shortToken, slug });
    const heldSlot = slot;
    let projectDir = sharedProjectDir(input.buildsDir, shortToken, heldSlot.concurrentProjectId, slug);

    const variablesFor = (dir: string, jobStatus: string): Variable[] =>
      expandVariables(
        buildJobVariables(job.variables, {
          buildsDir: input.buildsDir,
          projectDir: dir,
          concurrentId: heldSlot.concurrentId,
          concurrentProjectId: heldSlot.concurrentProjectId,
          jobTimeoutSeconds: jobTimeoutS,
          shortToken,
          environment: settings.environment,
          featureFlags: resolved.flags,
          imageName: job.image.name,
          tlsCaContent: input.tlsCaContent,
          tlsCertContent: input.tlsCertContent,
          tlsKeyContent: input.tlsKeyContent,
          sharedEnvironment: true,
          version: input.version,
          revision: input.revision,
          arch: `${input.os ?? "linux"}/${input.arch}`,
          jobStatus,
        }),
        dir,
      );
    let variables = variablesFor(projectDir, "running");
    const value = (key: string) => findVariable(variables, key)?.value ?? "";

    // GIT_CLONE_PATH (already expanded once) replaces the project directory, inside builds_dir.
    const clonePath = value("GIT_CLONE_PATH");
    let clonePathError: JobError | undefined;
    if (clonePath !== "") {
      if (!settings.custom_build_dir?.enabled) {
        clonePathError = {
          reason: "runner_configuration_error",
          message: "setting GIT_CLONE_PATH is not allowed, enable `custom_build_dir` feature",
        };
      } else {
        const rel = relative(input.buildsDir, resolve(input.buildsDir, clonePath));
        if (!isAbsolute(clonePath) || rel.startsWith("..") || isAbsolute(rel)) {
          clonePathError = {
            reason: "runner_configuration_error",
            message: `the GIT_CLONE_PATH=${JSON.stringify(clonePath)} has to be within ${JSON.stringify(input.buildsDir)}`,
          };
        } else {
          projectDir = resolve(clonePath);
          variables = variablesFor(projectDir, "running");
        }
      }
    }
    const tmpDir = tmpProjectDir(projectDir);

    const gitParsed = parseGitVariables(variables, {
      allowGitFetch: job.allow_git_fetch,
      depth: job.git_info.depth,
    });
    warnings.push(...gitParsed.warnings);
    const attempts = (name: string) => {
      const parsed = parseAttempts(name, value(name));
      if (parsed.warning) warnings.push(parsed.warning);
      return parsed.value;
    };
    const getSourcesAttempts = attempts("GET_SOURCES_ATTEMPTS");
    const artifactDownloadAttempts = attempts("ARTIFACT_DOWNLOAD_ATTEMPTS");
    const restoreCacheAttempts = attempts("RESTORE_CACHE_ATTEMPTS");
    // Only the docker executor retries sections ("No such container"); validated all the same.
    attempts("EXECUTOR_JOB_SECTION_ATTEMPTS");
    let debugTrace = parseGoBool(value("CI_DEBUG_TRACE")) === true;
    if (settings.debug_trace_disabled) {
      if (debugTrace) warnings.push("CI_DEBUG_TRACE: usage is disabled on this Runner");
      if (parseGoBool(value("CI_DEBUG_SERVICES")) === true)
        warnings.push("CI_DEBUG_SERVICES: usage is disabled on this Runner");
      debugTrace = false;
    }
    for (const w of warnings) log.warning(w);

    const envFor = (vars: Variable[]): ScriptEnv => ({
      shell,
      variables: vars,
      projectDir,
      tmpDir,
      debugTrace,
      posixEscapes: ff("FF_POSIXLY_CORRECT_ESCAPES"),
    });

    /** One stage in its section: headline, the script's output, the section end. */
    const runStage = async (
      name: string,
      headline: string,
      script: string | undefined,
      signal: AbortSignal,
    ): Promise<Outcome> => {
      if (script === undefined) return { kind: "skipped" };
      if (signal.aborted) return { kind: "stopped" };
      log.sectionStart(name, headline);
      try {
        let result: StageResult;
        try {
          result = await executor.run(
            { stage: name, kind: stageKind(name), script, shell },
            { onOutput: (chunk, stream) => log.output(stream, chunk) },
            signal,
          );
        } catch (error) {
          return { kind: "error", error: executorError(error) };
        } finally {
          log.endOutput();
        }
        if (result.aborted || signal.aborted) return { kind: "stopped" };
        return result.exitCode === 0 ? { kind: "ok" } : { kind: "exit", exitCode: result.exitCode };
      } finally {
        if (signal.aborted && signal.reason instanceof DeadlineExceeded) {
          log.warning(
            `${name} could not run to completion because the timeout was exceeded. For more control over job and script timeouts see: ${TIMEOUT_DOCS}`,
          );
        }
        log.sectionEnd(name);
      }
    };

    /** A stage that can fail for reasons of its own (config errors) before its script runs. */
    const runPlanned = async (
      name: string,
      headline: string,
      plan: () => string | undefined | JobError,
      signal: AbortSignal,
    ): Promise<Outcome> => {
      const planned = plan();
      if (planned === undefined || typeof planned === "string")
        return runStage(name, headline, planned, signal);
      log.sectionStart(name, headline);
      log.error(planned.message);
      log.sectionEnd(name);
      return { kind: "error", error: planned };
    };

    /** GitLab's attemptExecuteStage: retries with backoff; `beforeRetry` runs before attempt 2. */
    const attemptStage = async (
      count: number,
      run: () => Promise<Outcome>,
      beforeRetry?: () => Promise<Outcome>,
    ): Promise<Outcome> => {
      let outcome: Outcome = { kind: "skipped" };
      for (let attempt = 0; attempt < count; attempt++) {
        if (attempt === 1 && beforeRetry) {
          const cleared = await beforeRetry();
          if (cleared.kind !== "ok" && cleared.kind !== "skipped") {
            outcome = cleared;
            continue;
          }
        }
        outcome = await run();
        if (outcome.kind === "ok" || outcome.kind === "skipped" || outcome.kind === "stopped") return outcome;
        // A setting that makes the stage impossible does not get better by waiting.
        if (outcome.kind === "error" && outcome.error.reason === "runner_configuration_error") return outcome;
        if (attempt === count - 1 || jobSignal.aborted) break;
        const exponential = ff("FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY");
        const delay = (input.stageRetryDelayMs ?? stageRetryDelayMs)(attempt, exponential);
        log.info(`Retrying in ${formatSeconds(delay)}`);
        await sleep(delay, jobSignal);
      }
      return outcome;
    };

    // prepare_executor: tried up to 3 times unless the error is classified or the job stopped.
    log.sectionStart("prepare_executor", `Preparing the "${settings.executor ?? executor.name}" executor`);
    let prepareError: JobError | undefined = clonePathError;
    for (let attempt = 1; attempt <= PREPARE_ATTEMPTS && !prepareError; attempt++) {
      try {
        await executor.prepare({
          buildsDir: input.buildsDir,
          projectDir,
          shell,
          log: (line) => log.println(line),
          signal: jobSignal,
          jobId: job.id,
          image: job.image.name ? { name: job.image.name } : undefined,
          services: job.services.map((s) => ({ name: s.name, alias: s.alias })),
        });
        break;
      } catch (error) {
        const classified = error instanceof ExecutorError && error.failureReason !== "runner_system_failure";
        if (classified || jobSignal.aborted || attempt === PREPARE_ATTEMPTS) {
          prepareError = executorError(error);
          break;
        }
        log.warning(`Preparation failed: ${(error as Error).message}`);
        log.info(`Will be retried in ${formatSeconds(input.prepareRetryDelayMs ?? 3000)} ...`);
        await sleep(input.prepareRetryDelayMs ?? 3000, jobSignal);
      }
    }
    log.sectionEnd("prepare_executor");
    if (jobSignal.aborted) return fail(jobStopReason());
    if (prepareError) return fail(prepareError);

    // prepare_script: a failure ends the job at once.
    const prepared = await runStage(
      "prepare_script",
      "Preparing environment",
      prepareScript(envFor(variables)),
      jobSignal,
    );
    if (jobSignal.aborted) return fail(jobStopReason());
    if (prepared.kind !== "ok") {
      const e = outcomeError(prepared, jobStopReason);
      return fail({
        ...e,
        message: `prepare environment: ${e.message}. Check ${SHELL_PROFILE_DOCS} for more information`,
      });
    }

    // get_sources, restore_cache, download_artifacts: a failure skips the steps and after_script.
    let jobError: JobError | undefined;
    const tls = {
      caFile: findVariable(variables, "CI_SERVER_TLS_CA_FILE")
        ? fileVariablePath(projectDir, "CI_SERVER_TLS_CA_FILE")
        : undefined,
      certFile: findVariable(variables, "CI_SERVER_TLS_CERT_FILE")
        ? fileVariablePath(projectDir, "CI_SERVER_TLS_CERT_FILE")
        : undefined,
      keyFile: findVariable(variables, "CI_SERVER_TLS_KEY_FILE")
        ? fileVariablePath(projectDir, "CI_SERVER_TLS_KEY_FILE")
        : undefined,
    };
    const prelude = (w: Parameters<typeof writeExports>[0]) => writeExports(w, envFor(variables));
    const sources = await attemptStage(
      getSourcesAttempts,
      () =>
        runPlanned(
          "get_sources",
          "Getting source from Git repository",
          () => {
            try {
              return getSourcesScript({
                ...getSourcesInputFromJob({ job, runner: settings, variables, projectDir, tmpDir, tls }),
                userAgent: `runmesh ${input.version} ${input.os ?? "linux"}/${input.arch}`,
                shell,
                debugTrace,
                writePrelude: prelude,
              });
            } catch (error) {
              if (error instanceof GitSourcesConfigError)
                return { reason: "runner_system_failure", message: error.message } satisfies JobError;
              throw error;
            }
          },
          jobSignal,
        ),
      () =>
        runStage(
          "clear_worktree",
          "Deleting all tracked and untracked files due to source fetch failure",
          clearWorktreeScript({ projectDir, shell, debugTrace, writePrelude: prelude }),
          jobSignal,
        ),
    );
    if (!isSuccess(sources)) jobError = outcomeError(sources, jobStopReason);
    if (!jobError) {
      const cache = await attemptStage(restoreCacheAttempts, () =>
        runPlanned("restore_cache", "Restoring cache", () => unsupportedCache(job), jobSignal),
      );
      if (!isSuccess(cache)) jobError = outcomeError(cache, jobStopReason);
    }
    if (!jobError) {
      const artifacts = await attemptStage(artifactDownloadAttempts, () =>
        runPlanned("download_artifacts", "Downloading artifacts", () => unsupportedArtifacts(job), jobSignal),
      );
      if (!isSuccess(artifacts)) jobError = outcomeError(artifacts, jobStopReason);
    }
    if (jobSignal.aborted) return fail(jobStopReason());

    // User steps and after_script (GitLab's executeUserScripts), only when the above succeeded.
    if (!jobError) {
      const scriptTimeout = parseStageTimeout(
        "RUNNER_SCRIPT_TIMEOUT",
        value("RUNNER_SCRIPT_TIMEOUT"),
        undefined,
        jobDeadline.remainingMs(),
      );
      const afterTimeout = parseStageTimeout(
        "RUNNER_AFTER_SCRIPT_TIMEOUT",
        value("RUNNER_AFTER_SCRIPT_TIMEOUT"),
        DEFAULT_AFTER_SCRIPT_TIMEOUT_MS,
        jobDeadline.remainingMs(),
      );
      for (const w of [scriptTimeout.warning, afterTimeout.warning]) if (w) log.warning(w);

      const scriptDeadline =
        scriptTimeout.value !== undefined ? new Deadline(scriptTimeout.value) : undefined;
      if (scriptDeadline) timers.push(scriptDeadline);
      scriptPhase = true;
      const scriptSignal = AbortSignal.any(
        [jobSignal, input.cancelSignal, scriptDeadline?.signal].filter(
          (s): s is AbortSignal => s !== undefined,
        ),
      );
      for (const step of job.steps) {
        if (step.name === "after_script") continue;
        const name = `step_${step.name.toLowerCase()}`;
        // The `release` keyword arrives as a step whose lines GitLab Runner expands itself.
        const lookup = (k: string) => lookupForExpansion(variables, projectDir, k);
        const commands =
          step.name === "release" ? step.script.map((line) => expandValue(line, lookup)) : step.script;
        const outcome = await runStage(
          name,
          `Executing "${name}" stage of the job script`,
          userScript(envFor(variables), {
            commands,
            preBuildScript: settings.pre_build_script,
            postBuildScript: settings.post_build_script,
          }),
          scriptSignal,
        );
        if (outcome.kind === "ok") continue;
        jobError = outcomeError(outcome, () => {
          if (jobSignal.aborted) return jobStopReason();
          if (scriptDeadline?.signal.aborted) return timedOut;
          return canceled;
        });
        break;
      }
      if (!jobSignal.aborted && input.cancelSignal.aborted && jobError?.reason === "job_canceled") {
        log.warning("script canceled externally (UI, API)");
      }

      // after_script: in a fresh shell with CI_JOB_STATUS, under its own timeout; never after
      // the job's own context ended (abort, job timeout).
      const afterStep = job.steps.find((s) => s.name === "after_script");
      if (!jobSignal.aborted && afterStep && afterStep.script.length > 0) {
        const status = !jobError
          ? "success"
          : jobError.reason === "job_canceled"
            ? "canceled"
            : jobError.reason === "job_execution_timeout"
              ? "timedout"
              : "failed";
        const afterVariables = variablesFor(projectDir, status);
        const afterDeadline = new Deadline(afterTimeout.value ?? DEFAULT_AFTER_SCRIPT_TIMEOUT_MS);
        timers.push(afterDeadline);
        const outcome = await runStage(
          "after_script",
          "Running after_script",
          afterScript(envFor(afterVariables), afterStep.script),
          AbortSignal.any([jobSignal, afterDeadline.signal]),
        );
        if (!isSuccess(outcome) && !jobSignal.aborted) {
          const afterError = outcomeError(outcome, () => timedOut);
          if (parseGoBool(value("AFTER_SCRIPT_IGNORE_ERRORS")) === false) {
            jobError ??= afterError;
          } else {
            log.warning(`after_script failed, but job will continue unaffected: ${afterError.message}`);
          }
        }
      }
    }
    if (jobSignal.aborted) return fail(jobStopReason());

    // archive_cache* and upload_artifacts_*: a job that needs them already failed loudly above;
    // for every other job there is nothing to do, and GitLab skips such stages silently.

    await runStage(
      "cleanup_file_variables",
      "Cleaning up project directory and file based variables",
      cleanupFileVariablesScript(envFor(variables)),
      jobSignal,
    );
    if (jobSignal.aborted) return fail(jobStopReason());

    if (jobError) return fail(jobError);
    return end({ state: "success", message: "Job succeeded" });
  } catch (error) {
    return fail({ reason: "runner_system_failure", message: (error as Error).message });
  } finally {
    input.cancelSignal.removeEventListener("abort", onCancel);
    for (const d of timers) d.clear();
    await slot?.release();
  }
}

function isSuccess(o: Outcome): boolean {
  return o.kind === "ok" || o.kind === "skipped";
}

function executorError(error: unknown): JobError {
  const err = error instanceof Error ? error : new Error(String(error));
  return {
    reason: err instanceof ExecutorError ? err.failureReason : "runner_system_failure",
    message: err.message,
  };
}

function outcomeError(outcome: Outcome, stopped: () => JobError): JobError {
  switch (outcome.kind) {
    case "exit":
      return {
        reason: "script_failure",
        message: `exit code ${outcome.exitCode}`,
        exitCode: outcome.exitCode,
      };
    case "stopped":
      return stopped();
    case "error":
      return outcome.error;
    default:
      return { reason: "runner_system_failure", message: "unexpected stage outcome" };
  }
}

/** The abort reason of a deadline, so a stage can tell a timeout from a cancel. */
class DeadlineExceeded extends Error {
  constructor() {
    super("deadline exceeded");
  }
}

/** A timer-driven abort that can be cleared so a finished job leaves no timer behind. */
class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: ReturnType<typeof setTimeout>;
  readonly startedAt = Date.now();

  constructor(readonly ms: number) {
    this.timer = setTimeout(() => this.controller.abort(new DeadlineExceeded()), ms);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  remainingMs(): number {
    return Math.max(0, this.ms - (Date.now() - this.startedAt));
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

/** Go's Duration.String() for the pauses GitLab prints ("5s", "7.5s", "1m52.5s"). */
export function formatSeconds(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const totalS = ms / 1000;
  const m = Math.floor(totalS / 60);
  const s = Number((totalS - m * 60).toFixed(3));
  return m > 0 ? `${m}m${s}s` : `${s}s`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

function unsupportedCache(job: JobPayload): JobError | undefined {
  const wanted = job.cache.filter((c) => c.paths.length > 0 || c.untracked);
  if (wanted.length === 0) return undefined;
  return {
    reason: "runner_configuration_error",
    message: `this job defines cache (key ${wanted.map((c) => JSON.stringify(c.key)).join(", ")}), which runmesh does not implement yet; remove "cache:" from the job or run it on another runner`,
  };
}

function unsupportedArtifacts(job: JobPayload): JobError | undefined {
  const uploads = job.artifacts.filter((a) => a.paths.length > 0 || a.untracked);
  const downloads = job.dependencies.filter((d) => d.artifacts_file.filename !== "");
  if (uploads.length === 0 && downloads.length === 0) return undefined;
  const what = [
    uploads.length > 0 ? `artifacts to upload (${uploads.map((a) => a.name || "default").join(", ")})` : "",
    downloads.length > 0
      ? `artifacts to download from ${downloads.map((d) => `${d.name} (${d.id})`).join(", ")}`
      : "",
  ]
    .filter(Boolean)
    .join(" and ");
  return {
    reason: "runner_configuration_error",
    message: `this job has ${what}, which runmesh does not implement yet; remove "artifacts:"/"dependencies:" from the job or run it on another runner`,
  };
}
