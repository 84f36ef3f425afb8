// The build stage machine (runner-api.md (c) "Build stages", "Timeouts", "after_script
// specifics", "Cancel vs abort"): which stage runs after which outcome, with which signal, and
// how the job ends. Scripts come from libs/shell, processes from the executor; this file only
// decides and writes the runner's own lines to the job log.

import { formatGoDuration, parseGoDuration } from "../config/go-duration.ts";
import type { Executor, StageResult } from "../executors/executor.ts";
import { ExecutorError } from "../executors/executor.ts";
import {
  afterScript,
  cleanupFileVariablesScript,
  type GetSourcesSpec,
  type GitStrategy,
  getSourcesScript,
  prepareScript,
  type ScriptEnv,
  type SubmoduleStrategy,
  userScript,
} from "../shell/stage-scripts.ts";
import { acquireBuildSlot, type BuildSlot, projectSlug, sharedProjectDir } from "./build-dir.ts";
import { JobLog, type LogSink } from "./job-log.ts";
import type { JobPayload } from "./payload.ts";
import type { RunnerSettings } from "./runner-settings.ts";
import {
  buildJobVariables,
  expandValue,
  expandVariables,
  findVariable,
  lookupForExpansion,
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
  log: LogSink;
  /** Graceful cancel: stops the user script; after_script and on-failure stages still run. */
  cancelSignal: AbortSignal;
  /** Hard abort: stops everything, nothing else runs. */
  abortSignal: AbortSignal;
  systemId: string;
  /** The builds root, already resolved (builds_dir or the worker's default). */
  buildsDir: string;
  version: string;
  revision: string;
  /** GOARCH-style name for CI_RUNNER_EXECUTABLE_ARCH ("amd64"). */
  arch: string;
  /** Content of the runner's tls-ca-file, exposed as the file variable CI_SERVER_TLS_CA_FILE. */
  tlsCaContent?: string;
  /** Pause between prepare_executor attempts (GitLab: 3 s). */
  prepareRetryDelayMs?: number;
  /** Takes the job's concurrency slot; default: lock files under buildsDir. */
  acquireSlot?: (o: { buildsDir: string; shortToken: string; slug: string }) => Promise<BuildSlot>;
}

const DEFAULT_JOB_TIMEOUT_S = 7200;
const DEFAULT_AFTER_SCRIPT_TIMEOUT_MS = 5 * 60_000;
const PREPARE_ATTEMPTS = 3;
const TIMEOUT_DOCS =
  "https://docs.gitlab.com/ee/ci/runners/configure_runners.html#set-script-and-after_script-timeouts";

/** A stage's end as the machine sees it. */
type Outcome =
  | { kind: "ok" }
  | { kind: "skipped" }
  | { kind: "exit"; exitCode: number }
  | { kind: "stopped" }
  | { kind: "error"; error: Error; reason: FailureReason };

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
  const featureFlags = resolveFeatureFlags(settings.feature_flags, job.variables);

  log.println(`Running with gitlab-runner-compatible runmesh ${input.version} (${input.revision})`);
  log.println(`  on ${settings.name ?? ""} ${shortToken}, system ID: ${input.systemId}`);
  const flagList = Object.entries(settings.feature_flags ?? {});
  if (flagList.length > 0)
    log.println(`  feature flags: ${flagList.map(([k, v]) => `${k}:${v}`).join(", ")}`);

  const jobTimeoutS = job.runner_info.timeout > 0 ? job.runner_info.timeout : DEFAULT_JOB_TIMEOUT_S;
  const jobDeadline = new Deadline(jobTimeoutS * 1000);
  const jobSignal = AbortSignal.any([input.abortSignal, jobDeadline.signal]);
  const scriptDeadlines: Deadline[] = [];
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
  /** Why a stage stopped when its signal fired, hard abort and job timeout first. */
  const stopReason = (scriptDeadline?: Deadline): JobError => {
    if (input.abortSignal.aborted) return { reason: "job_canceled", message: "canceled" };
    if (jobDeadline.signal.aborted) {
      return {
        reason: "job_execution_timeout",
        message: `execution took longer than ${formatGoDuration(jobTimeoutS * 1000)} seconds`,
      };
    }
    if (scriptDeadline?.signal.aborted) {
      return {
        reason: "job_execution_timeout",
        message: `execution took longer than ${formatGoDuration(scriptDeadline.ms)} seconds`,
      };
    }
    return { reason: "job_canceled", message: "script canceled externally (UI, API)" };
  };

  try {
    const shell = settings.shell ?? "bash";
    if (shell !== "bash" && shell !== "sh") {
      return fail({
        reason: "runner_configuration_error",
        message: `shell ${JSON.stringify(shell)} is not supported by runmesh yet; use shell = "bash" or "sh"`,
      });
    }

    const slug = projectSlug(job.git_info.repo_url, job.job_info.project_id);
    slot = await (input.acquireSlot ?? acquireBuildSlot)({ buildsDir: input.buildsDir, shortToken, slug });
    const projectDir = sharedProjectDir(input.buildsDir, shortToken, slot.concurrentProjectId, slug);
    const tmpDir = tmpProjectDir(projectDir);

    const variablesFor = (jobStatus: string): Variable[] =>
      expandVariables(
        buildJobVariables(job.variables, {
          buildsDir: input.buildsDir,
          projectDir,
          concurrentId: slot!.concurrentId,
          concurrentProjectId: slot!.concurrentProjectId,
          jobTimeoutSeconds: jobTimeoutS,
          shortToken,
          environment: settings.environment,
          featureFlags,
          imageName: job.image.name,
          tlsCaContent: input.tlsCaContent,
          sharedEnvironment: true,
          version: input.version,
          revision: input.revision,
          arch: input.arch,
          jobStatus,
        }),
        projectDir,
      );
    let variables = variablesFor("running");
    const value = (key: string) => findVariable(variables, key)?.value ?? "";
    const debugTrace = parseGoBool(value("CI_DEBUG_TRACE")) === true && !settings.debug_trace_disabled;
    const envFor = (vars: Variable[]): ScriptEnv => ({
      shell,
      variables: vars,
      projectDir,
      tmpDir,
      debugTrace,
    });

    const runStage = async (
      name: string,
      headline: string,
      script: string | undefined,
      signal: AbortSignal,
    ): Promise<Outcome> => {
      if (script === undefined) return { kind: "skipped" };
      log.sectionStart(name, headline);
      try {
        if (signal.aborted) return { kind: "stopped" };
        let result: StageResult;
        try {
          result = await executor.run(
            { stage: name, script, shell },
            { onOutput: (chunk) => log.raw(chunk) },
            signal,
          );
        } catch (error) {
          return asErrorOutcome(error);
        }
        if (result.aborted || signal.aborted) return { kind: "stopped" };
        return result.exitCode === 0 ? { kind: "ok" } : { kind: "exit", exitCode: result.exitCode };
      } finally {
        log.sectionEnd(name);
      }
    };

    // prepare_executor: tried up to 3 times unless the job is stopped.
    const preSignal = AbortSignal.any([jobSignal, input.cancelSignal]);
    log.sectionStart("prepare_executor", `Preparing the "${settings.executor ?? executor.name}" executor`);
    let prepareError: Error | undefined;
    for (let attempt = 1; attempt <= PREPARE_ATTEMPTS; attempt++) {
      try {
        await executor.prepare({
          buildsDir: input.buildsDir,
          projectDir,
          shell,
          log: (line) => log.println(line),
          signal: preSignal,
          jobId: job.id,
          image: job.image.name ? { name: job.image.name } : undefined,
          services: job.services.map((s) => ({ name: s.name, alias: s.alias })),
        });
        prepareError = undefined;
        break;
      } catch (error) {
        prepareError = error as Error;
        const classified = error instanceof ExecutorError && error.failureReason !== "runner_system_failure";
        if (classified || preSignal.aborted || attempt === PREPARE_ATTEMPTS) break;
        log.warning(`Preparation failed: ${prepareError.message}`);
        log.println(`Will be retried in ${formatGoDuration(input.prepareRetryDelayMs ?? 3000)} ...`);
        await sleep(input.prepareRetryDelayMs ?? 3000, preSignal);
      }
    }
    log.sectionEnd("prepare_executor");
    if (preSignal.aborted) return fail(stopReason());
    if (prepareError) return fail(errorOf(asErrorOutcome(prepareError)));

    // prepare_script: a failure ends the job at once.
    const prepared = await runStage(
      "prepare_script",
      "Preparing environment",
      prepareScript(envFor(variables)),
      preSignal,
    );
    if (prepared.kind !== "ok") return fail(outcomeError(prepared, stopReason));

    // Everything up to the user script: a failure skips the steps and after_script.
    let jobError: JobError | undefined;
    let preScriptFailed = false;
    const sources = sourcesSpec(job, settings, variables, value);
    const preStages: [string, string, () => string | undefined | JobError][] = [
      [
        "get_sources",
        "Getting source from Git repository",
        () => ("error" in sources ? sources.error : getSourcesScript(envFor(variables), sources.spec)),
      ],
      ["restore_cache", "Restoring cache", () => unsupportedCache(job)],
      ["download_artifacts", "Downloading artifacts", () => unsupportedArtifacts(job)],
    ];
    for (const [name, headline, make] of preStages) {
      const made = make();
      if (made !== undefined && typeof made !== "string") {
        log.sectionStart(name, headline);
        log.error(made.message);
        log.sectionEnd(name);
        jobError = made;
        preScriptFailed = true;
        break;
      }
      const outcome = await runStage(name, headline, made, preSignal);
      if (outcome.kind === "ok" || outcome.kind === "skipped") continue;
      jobError = outcomeError(outcome, stopReason);
      preScriptFailed = true;
      break;
    }

    // User steps, in payload order, under RUNNER_SCRIPT_TIMEOUT, stopping at the first failure.
    let scriptDeadline: Deadline | undefined;
    if (!jobError) {
      scriptDeadline = parseTimeoutVariable(log, "RUNNER_SCRIPT_TIMEOUT", value("RUNNER_SCRIPT_TIMEOUT"));
      if (scriptDeadline) scriptDeadlines.push(scriptDeadline);
      const scriptSignal = AbortSignal.any(scriptDeadline ? [preSignal, scriptDeadline.signal] : [preSignal]);
      for (const step of job.steps) {
        if (step.name === "after_script") continue;
        const name = `step_${step.name}`;
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
        jobError = outcomeError(outcome, () => stopReason(scriptDeadline));
        if (scriptDeadline?.signal.aborted && !jobSignal.aborted) {
          log.warning(
            `${name} could not run to completion because the timeout was exceeded. For more control over job and script timeouts see: ${TIMEOUT_DOCS}`,
          );
        }
        break;
      }
    }

    // after_script: not after a failed pre-script stage, a hard abort or the job timeout.
    const afterStep = job.steps.find((s) => s.name === "after_script");
    if (!preScriptFailed && !jobSignal.aborted && afterStep && afterStep.script.length > 0) {
      const status = !jobError
        ? "success"
        : jobError.reason === "job_canceled"
          ? "canceled"
          : jobError.reason === "job_execution_timeout"
            ? "timedout"
            : "failed";
      variables = variablesFor(status);
      const afterDeadline = afterScriptDeadline(log, value("RUNNER_AFTER_SCRIPT_TIMEOUT"), jobDeadline);
      scriptDeadlines.push(afterDeadline);
      const outcome = await runStage(
        "after_script",
        "Running after_script",
        afterScript(envFor(variables), afterStep.script),
        AbortSignal.any([jobSignal, afterDeadline.signal]),
      );
      if (outcome.kind !== "ok" && !jobSignal.aborted) {
        const afterError = outcomeError(outcome, () => ({
          reason: "job_execution_timeout",
          message: `execution took longer than ${formatGoDuration(afterDeadline.ms)} seconds`,
        }));
        if (afterDeadline.signal.aborted) {
          log.warning(
            `after_script could not run to completion because the timeout was exceeded. For more control over job and script timeouts see: ${TIMEOUT_DOCS}`,
          );
        }
        if (parseGoBool(value("AFTER_SCRIPT_IGNORE_ERRORS")) === false) {
          jobError ??= afterError;
        } else {
          log.warning(`after_script failed, but job will continue unaffected: ${afterError.message}`);
        }
      }
    }
    if (jobSignal.aborted) return fail(stopReason(scriptDeadline));

    // archive_cache* and upload_artifacts_*: a job that needs them already failed loudly above;
    // for every other job there is nothing to do, and GitLab skips such stages silently.

    const cleanup = cleanupFileVariablesScript(envFor(variables));
    await runStage(
      "cleanup_file_variables",
      "Cleaning up project directory and file based variables",
      cleanup,
      jobSignal,
    );
    if (jobSignal.aborted) return fail(stopReason(scriptDeadline));

    if (jobError) return fail(jobError);
    return end({ state: "success", message: "Job succeeded" });
  } catch (error) {
    return fail({ reason: "runner_system_failure", message: (error as Error).message });
  } finally {
    jobDeadline.clear();
    for (const d of scriptDeadlines) d.clear();
    await slot?.release();
  }
}

function asErrorOutcome(error: unknown): Outcome {
  const err = error instanceof Error ? error : new Error(String(error));
  return {
    kind: "error",
    error: err,
    reason: err instanceof ExecutorError ? err.failureReason : "runner_system_failure",
  };
}

function errorOf(outcome: Outcome): JobError {
  if (outcome.kind === "error") return { reason: outcome.reason, message: outcome.error.message };
  return { reason: "runner_system_failure", message: "unexpected stage outcome" };
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
      return errorOf(outcome);
    default:
      return { reason: "runner_system_failure", message: "unexpected stage outcome" };
  }
}

/** A timer-driven abort that can be cleared so a finished job leaves no timer behind. */
class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: ReturnType<typeof setTimeout>;
  readonly startedAt = Date.now();

  constructor(readonly ms: number) {
    this.timer = setTimeout(() => this.controller.abort(new Error("deadline exceeded")), ms);
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

function parseTimeoutVariable(log: JobLog, name: string, raw: string): Deadline | undefined {
  if (raw === "") return undefined;
  let ms: number;
  try {
    ms = parseGoDuration(raw);
  } catch (error) {
    log.warning(`Ignoring ${name}=${JSON.stringify(raw)}: ${(error as Error).message}`);
    return undefined;
  }
  if (ms <= 0) return undefined;
  return new Deadline(ms);
}

/** RUNNER_AFTER_SCRIPT_TIMEOUT: 5 min unless a positive duration; never beyond the job's end. */
function afterScriptDeadline(log: JobLog, raw: string, job: Deadline): Deadline {
  let ms = DEFAULT_AFTER_SCRIPT_TIMEOUT_MS;
  if (raw !== "") {
    try {
      const parsed = parseGoDuration(raw);
      if (parsed < 0)
        log.warning(`RUNNER_AFTER_SCRIPT_TIMEOUT is negative (${raw}); using the default of 5m0s`);
      else if (parsed > 0) ms = parsed;
    } catch {
      log.warning(
        `RUNNER_AFTER_SCRIPT_TIMEOUT ${JSON.stringify(raw)} is not a duration; using the default of 5m0s`,
      );
    }
  }
  const remaining = job.remainingMs();
  if (ms > remaining) {
    log.warning(
      `RUNNER_AFTER_SCRIPT_TIMEOUT (${formatGoDuration(ms)}) is longer than the time left for the job; using ${formatGoDuration(remaining)}`,
    );
    ms = remaining;
  }
  return new Deadline(ms);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
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

/** get_sources settings from the job's variables (GIT_STRATEGY & co.) and the runner entry. */
function sourcesSpec(
  job: JobPayload,
  settings: RunnerSettings,
  variables: readonly Variable[],
  value: (key: string) => string,
): { spec: GetSourcesSpec } | { error: JobError } {
  const strategyRaw = value("GIT_STRATEGY");
  const strategy: GitStrategy | undefined =
    strategyRaw === ""
      ? job.allow_git_fetch
        ? "fetch"
        : "clone"
      : (["clone", "fetch", "none"] as const).find((s) => s === strategyRaw);
  if (!strategy) {
    return {
      error: {
        reason: "script_failure",
        message: `unknown GIT_STRATEGY ${JSON.stringify(strategyRaw)}: use clone, fetch or none`,
      },
    };
  }
  const submodulesRaw = value("GIT_SUBMODULE_STRATEGY");
  const submodules: SubmoduleStrategy | undefined =
    submodulesRaw === ""
      ? "none"
      : (["none", "normal", "recursive"] as const).find((s) => s === submodulesRaw);
  if (!submodules) {
    return {
      error: {
        reason: "script_failure",
        message: `unknown GIT_SUBMODULE_STRATEGY ${JSON.stringify(submodulesRaw)}: use none, normal or recursive`,
      },
    };
  }
  const flags = (key: string, fallback: string[]) => {
    const raw = value(key).trim();
    if (raw === "") return fallback;
    if (raw === "none") return [];
    return raw.split(/\s+/);
  };
  const submoduleDepth = Number.parseInt(value("GIT_SUBMODULE_DEPTH"), 10);
  const hooks = (name: string) => job.hooks.filter((h) => h.name === name).flatMap((h) => h.script);
  const repoUrl = remoteUrl(job, settings, value);
  let tlsCaHost: string | undefined;
  if (findVariable(variables, "CI_SERVER_TLS_CA_FILE")) {
    try {
      const u = new URL(repoUrl);
      tlsCaHost = `${u.protocol}//${u.host}`;
    } catch {
      tlsCaHost = undefined;
    }
  }
  return {
    spec: {
      strategy,
      repoUrl,
      refspecs: job.git_info.refspecs,
      depth: job.git_info.depth,
      sha: job.git_info.sha,
      ref: job.git_info.ref,
      objectFormat: job.git_info.repo_object_format,
      checkout: parseGoBool(value("GIT_CHECKOUT")) ?? true,
      cleanFlags: flags("GIT_CLEAN_FLAGS", ["-ffdx"]),
      fetchFlags: flags("GIT_FETCH_EXTRA_FLAGS", ["--prune", "--quiet"]),
      submodules,
      submoduleUpdateFlags: flags("GIT_SUBMODULE_UPDATE_FLAGS", []),
      submoduleDepth: Number.isFinite(submoduleDepth) ? submoduleDepth : job.git_info.depth,
      lfsSkipSmudge: parseGoBool(value("GIT_LFS_SKIP_SMUDGE")) === true,
      preScripts: [
        ...(settings.pre_get_sources_script ? [settings.pre_get_sources_script] : []),
        ...hooks("pre_get_sources_script"),
      ],
      postScripts: [
        ...hooks("post_get_sources_script"),
        ...(settings.post_get_sources_script ? [settings.post_get_sources_script] : []),
      ],
      userAgent: `gitlab-runner-compatible runmesh ${value("CI_RUNNER_VERSION")} linux/${value("CI_RUNNER_EXECUTABLE_ARCH")}`,
      tlsCaHost,
    },
  };
}

/** GitLab's GetRemoteURL: `clone_url` replaces the server part, the job token stays. */
function remoteUrl(job: JobPayload, settings: RunnerSettings, value: (key: string) => string): string {
  const cloneUrl = (settings.clone_url ?? "").replace(/\/+$/, "");
  if (!cloneUrl.startsWith("http")) return job.git_info.repo_url;
  const [scheme, rest] = cloneUrl.split("://", 2);
  const projectPath = value("CI_PROJECT_PATH") || job.job_info.project_full_path;
  return `${scheme}://gitlab-ci-token:${job.token}@${rest}/${projectPath}.git`;
}
