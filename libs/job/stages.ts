// The build stage machine (runner-api.md (c) "Build stages", "Stage attempts", "Timeouts",
// "after_script specifics", "Cancel vs abort"; GitLab Runner's common/build.go): which stage runs
// after which outcome, with which signal, and how the job ends. Everything it needs to know about
// the job was decided once in the plan (job-plan.ts); running one stage and its attempts is
// stage-runner.ts; scripts come from libs/shell and libs/git, processes from the executor.

import { mkdir, rm } from "node:fs/promises";
import { hostname } from "node:os";
import type { CacheUrlSource } from "../cache/remote-cache.ts";
import { type Executor, ExecutorError } from "../executors/executor.ts";
import {
  clearWorktreeScript,
  GitSourcesConfigError,
  getSourcesInputFromJob,
  getSourcesScript,
  getSourcesWithoutShell,
} from "../git/get-sources.ts";
import {
  afterScript,
  cleanupFiles,
  cleanupFileVariablesScript,
  prepareScript,
  type ScriptEnv,
  userScript,
  writeExports,
} from "../shell/stage-scripts.ts";
import { acquireBuildSlot, type BuildSlot, projectSlug } from "./build-dir.ts";
import { archiveCacheStage, restoreCacheStage } from "./cache-stages.ts";
import { JobLog, type JobTraceSink } from "./job-log.ts";
import { type JobPlan, type Placement, placeJob } from "./job-plan.ts";
import type { JobPayload } from "./payload.ts";
import {
  Deadline,
  executorError,
  type FailureReason,
  formatSeconds,
  isSuccess,
  type JobError,
  type Outcome,
  outcomeError,
  StageRunner,
  sleep,
} from "./stage-runner.ts";
import { executionTimeoutMessage, parseStageTimeout, stageRetryDelayMs } from "./stage-settings.ts";
import { downloadArtifactsStage, uploadArtifactsStage } from "./transfer-stages.ts";
import { expandValue, lookupForExpansion, type Variable } from "./variables.ts";

export type { FailureReason } from "./stage-runner.ts";

export interface JobResult {
  state: "success" | "failed";
  failureReason?: FailureReason;
  exitCode?: number;
  message: string;
}

export interface StageMachineInput {
  plan: JobPlan;
  executor: Executor;
  log: JobTraceSink;
  /** Graceful cancel: stops the user script; after_script and on-failure stages still run. */
  cancelSignal: AbortSignal;
  /** Hard abort: stops everything, nothing else runs. */
  abortSignal: AbortSignal;
  systemId: string;
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
  /** URLs for the distributed cache (the cache-signer); absent: the local cache only. */
  cacheUrls?: CacheUrlSource;
  /** Takes the job's concurrency slot; default: lock files under the layout's locksDir. */
  acquireSlot?: (o: { buildsDir: string; shortToken: string; slug: string }) => Promise<BuildSlot>;
}

const DEFAULT_AFTER_SCRIPT_TIMEOUT_MS = 5 * 60_000;
const PREPARE_ATTEMPTS = 3;
const SHELL_PROFILE_DOCS = "https://docs.gitlab.com/runner/shells/#shell-profile-loading";

/**
 * The job's signals as GitLab Runner wires its contexts: abort, the job timeout, and a cancel
 * that stops the whole job until the user script takes it over (executeUserScripts).
 */
class JobSignals {
  readonly deadline: Deadline;
  readonly job: AbortSignal;
  private readonly earlyCancel = new AbortController();
  private scriptPhase = false;
  private readonly timers: Deadline[] = [];
  private readonly onCancel = () => {
    if (!this.scriptPhase) this.earlyCancel.abort();
  };

  constructor(
    readonly cancel: AbortSignal,
    readonly abort: AbortSignal,
    readonly jobTimeoutS: number,
  ) {
    this.deadline = this.timer(jobTimeoutS * 1000);
    cancel.addEventListener("abort", this.onCancel, { once: true });
    if (cancel.aborted) this.earlyCancel.abort();
    this.job = AbortSignal.any([abort, this.deadline.signal, this.earlyCancel.signal]);
  }

  /** From now on a cancel stops the user script only. */
  enterScriptPhase(): void {
    this.scriptPhase = true;
  }

  timer(ms: number): Deadline {
    const d = new Deadline(ms);
    this.timers.push(d);
    return d;
  }

  /** Why the job context stopped: abort and cancel are "canceled", the deadline a timeout. */
  stopReason(): JobError {
    return this.deadline.signal.aborted && !this.abort.aborted && !this.earlyCancel.signal.aborted
      ? this.timedOut()
      : CANCELED;
  }

  timedOut(): JobError {
    return { reason: "job_execution_timeout", message: executionTimeoutMessage(this.jobTimeoutS) };
  }

  dispose(): void {
    this.cancel.removeEventListener("abort", this.onCancel);
    for (const d of this.timers) d.clear();
  }
}

const CANCELED: JobError = { reason: "job_canceled", message: "canceled" };

/** What every phase of one job shares once it holds its slot. */
interface JobRun {
  input: StageMachineInput;
  plan: JobPlan;
  placed: Placement;
  log: JobLog;
  signals: JobSignals;
  stages: StageRunner;
  env(variables: readonly Variable[]): ScriptEnv;
}

export async function runStages(input: StageMachineInput): Promise<JobResult> {
  const { plan } = input;
  const log = new JobLog(input.log, plan.job.features.trace_sections);
  log.println(`Running with runmesh ${input.version} (${input.revision})`);
  log.println(`  on ${plan.settings.name ?? ""} ${plan.shortToken}, system ID: ${input.systemId}`);
  if (plan.nonDefaultFlags !== "") log.println(`  feature flags: ${plan.nonDefaultFlags}`);

  const signals = new JobSignals(input.cancelSignal, input.abortSignal, plan.timeouts.jobSeconds);
  const end = (result: JobResult): JobResult => {
    if (result.state === "success") log.info("Job succeeded");
    else if (result.failureReason === "runner_system_failure")
      log.error(`Job failed (system failure): ${result.message}`);
    else log.error(`Job failed: ${result.message}`);
    return result;
  };
  const fail = (e: JobError): JobResult =>
    end({ state: "failed", failureReason: e.reason, exitCode: e.exitCode, message: e.message });
  let slot: BuildSlot | undefined;
  try {
    // Settings errors, printed once before anything runs (GitLab's printSettingErrors).
    if (plan.configError) return fail({ reason: "runner_configuration_error", message: plan.configError });
    slot = await (input.acquireSlot ?? acquireBuildSlot)({
      buildsDir: plan.layout.locksDir,
      shortToken: plan.shortToken,
      slug: projectSlug(plan.job.git_info.repo_url, plan.job.job_info.project_id),
    });
    const placed = placeJob(plan, slot, {
      version: input.version,
      revision: input.revision,
      arch: `${input.os ?? "linux"}/${input.arch}`,
      tlsCaContent: input.tlsCaContent,
      tlsCertContent: input.tlsCertContent,
      tlsKeyContent: input.tlsKeyContent,
    });
    for (const w of [...plan.warnings.flags, ...placed.git.warnings, ...plan.warnings.settings])
      log.warning(w);
    const flag = (name: string) => plan.featureFlags[name] === true;
    const run: JobRun = {
      input,
      plan,
      placed,
      log,
      signals,
      stages: new StageRunner({
        log,
        executor: input.executor,
        shell: plan.shell,
        jobSignal: signals.job,
        exponentialBackoff: flag("FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY"),
        retryDelayMs: input.stageRetryDelayMs ?? stageRetryDelayMs,
      }),
      env: (variables) => ({
        shell: plan.shell,
        variables,
        projectDir: placed.projectDir,
        tmpDir: placed.tmpDir,
        debugTrace: plan.debugTrace,
        posixEscapes: flag("FF_POSIXLY_CORRECT_ESCAPES"),
      }),
    };

    const prepareError = await prepareExecutor(run);
    if (signals.job.aborted) return fail(signals.stopReason());
    if (prepareError) return fail(prepareError);

    // prepare_script: a failure ends the job at once.
    const prepared = await run.stages.run(
      "prepare_script",
      "Preparing environment",
      prepareScript(
        run.env(placed.variables),
        input.executor.hostname,
        input.executor.local ? hostname() : undefined,
      ),
      signals.job,
    );
    if (signals.job.aborted) return fail(signals.stopReason());
    if (prepared.kind !== "ok") {
      const e = outcomeError(prepared, () => signals.stopReason());
      return fail({
        ...e,
        message: `prepare environment: ${e.message}. Check ${SHELL_PROFILE_DOCS} for more information`,
      });
    }

    // get_sources, restore_cache, download_artifacts: a failure skips the steps and after_script.
    let jobError = await fetchInputs(run);
    if (signals.job.aborted) return fail(signals.stopReason());
    if (!jobError) jobError = await userScripts(run);
    if (signals.job.aborted) return fail(signals.stopReason());

    // archive_cache* and upload_artifacts_*: run by the worker through the executor's workspace
    // transfer (cache-stages.ts, transfer-stages.ts; without one such jobs already failed loudly
    // above). A cache failure is a warning; a failed upload fails an otherwise successful job.
    const workspace = input.executor.workspace?.(placed.projectDir);
    if (workspace) {
      await archiveCacheStage(
        { plan, placed, log, signal: signals.job, workspace, remote: input.cacheUrls },
        !!jobError,
      );
      if (signals.job.aborted) return fail(signals.stopReason());
      const upload = await uploadArtifactsStage(
        { plan, placed, log, signal: signals.job, workspace },
        !!jobError,
      );
      if (signals.job.aborted) return fail(signals.stopReason());
      if (!isSuccess(upload)) jobError ??= outcomeError(upload, () => signals.stopReason());
    }

    await cleanupStage(run);
    if (signals.job.aborted) return fail(signals.stopReason());

    if (jobError) return fail(jobError);
    return end({ state: "success", message: "Job succeeded" });
  } catch (error) {
    return fail({ reason: "runner_system_failure", message: (error as Error).message });
  } finally {
    signals.dispose();
    await slot?.release();
  }
}

/** prepare_executor: tried up to 3 times unless the error is classified or the job stopped. */
async function prepareExecutor(run: JobRun): Promise<JobError | undefined> {
  const { input, plan, placed, log, signals } = run;
  const job = plan.job;
  const delayMs = input.prepareRetryDelayMs ?? 3000;
  log.sectionStart("prepare_executor", `Preparing the "${plan.executorName}" executor`);
  // A refused GIT_CLONE_PATH fails the preparation before the executor is asked.
  let prepareError: JobError | undefined = placed.clonePathError
    ? { reason: "runner_configuration_error", message: placed.clonePathError }
    : undefined;
  for (let attempt = 1; attempt <= PREPARE_ATTEMPTS && !prepareError; attempt++) {
    try {
      await input.executor.prepare({
        buildsDir: plan.layout.buildsDir,
        projectDir: placed.projectDir,
        shell: plan.shell,
        log: (line) => log.println(line),
        signal: signals.job,
        jobId: job.id,
        image: job.image.name ? job.image : undefined,
        services: job.services,
        variables: placed.variables,
        credentials: job.credentials,
        expand: (value) =>
          expandValue(value, (k) => lookupForExpansion(placed.variables, placed.projectDir, k)),
        jobResponse: job,
      });
      break;
    } catch (error) {
      const classified = error instanceof ExecutorError && error.failureReason !== "runner_system_failure";
      if (classified || signals.job.aborted || attempt === PREPARE_ATTEMPTS) {
        prepareError = executorError(error);
        break;
      }
      log.warning(`Preparation failed: ${(error as Error).message}`);
      log.info(`Will be retried in ${formatSeconds(delayMs)} ...`);
      await sleep(delayMs, signals.job);
    }
  }
  log.sectionEnd("prepare_executor");
  return prepareError;
}

/**
 * cleanup_file_variables, on every job as GitLab runs it. On the worker's own host the worker
 * removes the files itself: the stage prints nothing, so a login shell would only cost a fork
 * and an exec per file (issue 16); the debug trace keeps the script, whose `rm -f` lines show.
 */
function cleanupStage(run: JobRun): Promise<Outcome> {
  const { input, plan, placed, signals, stages } = run;
  const env = run.env(placed.variables);
  const headline = "Cleaning up project directory and file based variables";
  if (!input.executor.local || plan.debugTrace)
    return stages.run("cleanup_file_variables", headline, cleanupFileVariablesScript(env), signals.job);
  return stages.runWithoutShell(
    "cleanup_file_variables",
    headline,
    async () => {
      await Promise.all(cleanupFiles(env).map((path) => rm(path, { force: true })));
      return "";
    },
    signals.job,
  );
}

/** get_sources (with clear_worktree before a retry), restore_cache, download_artifacts. */
async function fetchInputs(run: JobRun): Promise<JobError | undefined> {
  const { input, plan, placed, signals, stages } = run;
  const { job, settings } = plan;
  const stopped = () => signals.stopReason();
  const prelude = (w: Parameters<typeof writeExports>[0]) => writeExports(w, run.env(placed.variables));
  const sourcesInput = () => ({
    ...getSourcesInputFromJob({
      job,
      runner: settings,
      variables: placed.variables,
      projectDir: placed.projectDir,
      tmpDir: placed.tmpDir,
      tls: placed.tls,
    }),
    userAgent: `runmesh ${input.version} ${input.os ?? "linux"}/${input.arch}`,
    shell: plan.shell,
    debugTrace: plan.debugTrace,
  });
  // Nothing to fetch on the worker's own host: the worker makes the dir and prints the lines
  // (a login shell per stage stays wherever a script runs).
  const withoutShell = input.executor.local ? getSourcesWithoutShell(sourcesInput()) : undefined;
  const sources = await stages.attempt(
    plan.attempts.getSources,
    () =>
      withoutShell
        ? stages.runWithoutShell(
            "get_sources",
            "Getting source from Git repository",
            async () => {
              if (withoutShell.removeDir) await rm(withoutShell.removeDir, { recursive: true, force: true });
              await mkdir(withoutShell.makeDir, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
                throw new Error(
                  `mkdir: cannot create directory '${withoutShell.makeDir}': ${e.code ?? e.message}`,
                );
              });
              return withoutShell.output;
            },
            signals.job,
          )
        : stages.runPlanned(
            "get_sources",
            "Getting source from Git repository",
            () => {
              try {
                return getSourcesScript({ ...sourcesInput(), writePrelude: prelude });
              } catch (error) {
                if (error instanceof GitSourcesConfigError)
                  return { reason: "runner_system_failure", message: error.message } satisfies JobError;
                throw error;
              }
            },
            signals.job,
          ),
    () =>
      stages.run(
        "clear_worktree",
        "Deleting all tracked and untracked files due to source fetch failure",
        clearWorktreeScript({
          projectDir: placed.projectDir,
          shell: plan.shell,
          debugTrace: plan.debugTrace,
          writePrelude: prelude,
        }),
        signals.job,
      ),
  );
  if (!isSuccess(sources)) return outcomeError(sources, stopped);
  const workspace = input.executor.workspace?.(placed.projectDir);
  const cache = await stages.attempt(plan.attempts.restoreCache, () =>
    workspace
      ? restoreCacheStage({
          plan,
          placed,
          log: run.log,
          signal: signals.job,
          workspace,
          remote: input.cacheUrls,
        })
      : stages.runPlanned("restore_cache", "Restoring cache", () => unsupportedCache(job), signals.job),
  );
  if (!isSuccess(cache)) return outcomeError(cache, stopped);
  const artifacts = await stages.attempt(plan.attempts.artifactDownload, () =>
    workspace
      ? downloadArtifactsStage({ plan, placed, log: run.log, signal: signals.job, workspace })
      : stages.runPlanned(
          "download_artifacts",
          "Downloading artifacts",
          () => unsupportedArtifacts(job),
          signals.job,
        ),
  );
  if (!isSuccess(artifacts)) return outcomeError(artifacts, stopped);
  return undefined;
}

/** The user steps and after_script (GitLab's executeUserScripts). */
async function userScripts(run: JobRun): Promise<JobError | undefined> {
  const { input, plan, placed, log, signals, stages } = run;
  const { job, settings } = plan;
  const scriptTimeout = parseStageTimeout(
    "RUNNER_SCRIPT_TIMEOUT",
    plan.timeouts.script,
    undefined,
    signals.deadline.remainingMs(),
  );
  const afterTimeout = parseStageTimeout(
    "RUNNER_AFTER_SCRIPT_TIMEOUT",
    plan.timeouts.afterScript,
    DEFAULT_AFTER_SCRIPT_TIMEOUT_MS,
    signals.deadline.remainingMs(),
  );
  for (const w of [scriptTimeout.warning, afterTimeout.warning]) if (w) log.warning(w);

  const scriptDeadline = scriptTimeout.value !== undefined ? signals.timer(scriptTimeout.value) : undefined;
  signals.enterScriptPhase();
  const scriptSignal = AbortSignal.any(
    [signals.job, input.cancelSignal, scriptDeadline?.signal].filter(
      (s): s is AbortSignal => s !== undefined,
    ),
  );
  let jobError: JobError | undefined;
  for (const step of job.steps) {
    if (step.name === "after_script") continue;
    const name = `step_${step.name.toLowerCase()}`;
    // The `release` keyword arrives as a step whose lines GitLab Runner expands itself.
    const lookup = (k: string) => lookupForExpansion(placed.variables, placed.projectDir, k);
    const commands =
      step.name === "release" ? step.script.map((line) => expandValue(line, lookup)) : step.script;
    const outcome: Outcome = await stages.run(
      name,
      `Executing "${name}" stage of the job script`,
      userScript(run.env(placed.variables), {
        commands,
        preBuildScript: settings.pre_build_script,
        postBuildScript: settings.post_build_script,
      }),
      scriptSignal,
    );
    if (outcome.kind === "ok") continue;
    jobError = outcomeError(outcome, () => {
      if (signals.job.aborted) return signals.stopReason();
      if (scriptDeadline?.signal.aborted) return signals.timedOut();
      return CANCELED;
    });
    break;
  }
  if (!signals.job.aborted && input.cancelSignal.aborted && jobError?.reason === "job_canceled") {
    log.warning("script canceled externally (UI, API)");
  }

  // after_script: in a fresh shell with CI_JOB_STATUS, under its own timeout; never after the
  // job's own context ended (abort, job timeout).
  const afterStep = job.steps.find((s) => s.name === "after_script");
  if (signals.job.aborted || !afterStep || afterStep.script.length === 0) return jobError;
  const afterDeadline = signals.timer(afterTimeout.value ?? DEFAULT_AFTER_SCRIPT_TIMEOUT_MS);
  const outcome = await stages.run(
    "after_script",
    "Running after_script",
    afterScript(run.env(placed.variablesFor(jobStatus(jobError))), afterStep.script),
    AbortSignal.any([signals.job, afterDeadline.signal]),
  );
  if (!isSuccess(outcome) && !signals.job.aborted) {
    const afterError = outcomeError(outcome, () => signals.timedOut());
    if (!plan.afterScriptIgnoreErrors) jobError ??= afterError;
    else log.warning(`after_script failed, but job will continue unaffected: ${afterError.message}`);
  }
  return jobError;
}

/** CI_JOB_STATUS for after_script. */
function jobStatus(error: JobError | undefined): string {
  if (!error) return "success";
  if (error.reason === "job_canceled") return "canceled";
  if (error.reason === "job_execution_timeout") return "timedout";
  return "failed";
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
