// Running one build stage and its attempts (runner-api.md (c) "Stage attempts"; GitLab Runner's
// common/build.go executeStage and attemptExecuteStage): the section around it, the script on
// the executor with its kind, the timeout warning, retries with GitLab's backoff. What runs after
// what is the stage machine's business (stages.ts).
import type { Executor, JobShell, StageResult } from "../executors/executor.ts";
import { ExecutorError } from "../executors/executor.ts";
import type { JobLog } from "./job-log.ts";
import { stageKind } from "./stage-kind.ts";

export type FailureReason =
  | "script_failure"
  | "runner_system_failure"
  | "job_execution_timeout"
  | "job_canceled"
  | "runner_configuration_error"
  | "image_pull_failure";

/** The error that decides the job's end (the first one, by GitLab's priority). */
export interface JobError {
  reason: FailureReason;
  message: string;
  exitCode?: number;
}

/** A stage's end as the machine sees it. */
export type Outcome =
  | { kind: "ok" }
  | { kind: "skipped" }
  | { kind: "exit"; exitCode: number }
  | { kind: "stopped" }
  | { kind: "error"; error: JobError };

const TIMEOUT_DOCS =
  "https://docs.gitlab.com/ci/runners/configure_runners/#set-script-and-after_script-timeouts";

export interface StageRunnerOptions {
  log: JobLog;
  executor: Executor;
  shell: JobShell;
  /** The job's own context: retries stop waiting when it ends. */
  jobSignal: AbortSignal;
  /** FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY. */
  exponentialBackoff: boolean;
  /** Pause before retry `retry` (0-based). */
  retryDelayMs: (retry: number, exponential: boolean) => number;
}

export class StageRunner {
  constructor(private readonly o: StageRunnerOptions) {}

  /** One stage in its section: headline, the script's output, the section end. */
  async run(
    name: string,
    headline: string,
    script: string | undefined,
    signal: AbortSignal,
  ): Promise<Outcome> {
    const { log } = this.o;
    if (script === undefined) return { kind: "skipped" };
    if (signal.aborted) return { kind: "stopped" };
    log.sectionStart(name, headline);
    try {
      let result: StageResult;
      try {
        result = await this.o.executor.run(
          { stage: name, kind: stageKind(name), script, shell: this.o.shell },
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
  }

  /**
   * A predefined stage the worker does itself (Executor.local): the same section, the same output
   * a script would print, without starting a shell. A failing `work` reads as the script's
   * failure would: its message on stderr, exit code 1.
   */
  async runWithoutShell(
    name: string,
    headline: string,
    work: () => Promise<string>,
    signal: AbortSignal,
  ): Promise<Outcome> {
    const { log } = this.o;
    if (signal.aborted) return { kind: "stopped" };
    log.sectionStart(name, headline);
    try {
      const output = await work();
      log.output("stdout", new TextEncoder().encode(output));
      return { kind: "ok" };
    } catch (error) {
      log.output("stderr", new TextEncoder().encode(`${(error as Error).message}\n`));
      return { kind: "exit", exitCode: 1 };
    } finally {
      log.endOutput();
      log.sectionEnd(name);
    }
  }

  /** A stage that can fail for reasons of its own (config errors) before its script runs. */
  async runPlanned(
    name: string,
    headline: string,
    plan: () => string | undefined | JobError,
    signal: AbortSignal,
  ): Promise<Outcome> {
    const planned = plan();
    if (planned === undefined || typeof planned === "string")
      return this.run(name, headline, planned, signal);
    const { log } = this.o;
    log.sectionStart(name, headline);
    log.error(planned.message);
    log.sectionEnd(name);
    return { kind: "error", error: planned };
  }

  /** GitLab's attemptExecuteStage: retries with backoff; `beforeRetry` runs before attempt 2. */
  async attempt(
    count: number,
    run: () => Promise<Outcome>,
    beforeRetry?: () => Promise<Outcome>,
  ): Promise<Outcome> {
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
      if (attempt === count - 1 || this.o.jobSignal.aborted) break;
      const delay = this.o.retryDelayMs(attempt, this.o.exponentialBackoff);
      this.o.log.info(`Retrying in ${formatSeconds(delay)}`);
      await sleep(delay, this.o.jobSignal);
    }
    return outcome;
  }
}

export function isSuccess(o: Outcome): boolean {
  return o.kind === "ok" || o.kind === "skipped";
}

export function executorError(error: unknown): JobError {
  const err = error instanceof Error ? error : new Error(String(error));
  if (!(err instanceof ExecutorError)) return { reason: "runner_system_failure", message: err.message };
  const e: JobError = { reason: err.failureReason, message: err.message };
  if (err.exitCode !== undefined) e.exitCode = err.exitCode;
  return e;
}

export function outcomeError(outcome: Outcome, stopped: () => JobError): JobError {
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
export class DeadlineExceeded extends Error {
  constructor() {
    super("deadline exceeded");
  }
}

/** A timer-driven abort that can be cleared so a finished job leaves no timer behind. */
export class Deadline {
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

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
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
