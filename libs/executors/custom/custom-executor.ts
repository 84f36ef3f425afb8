// The custom executor (GitLab Runner's executors/custom): the job runs through the driver the
// runner entry names. config_exec first (its JSON moves builds_dir / cache_dir, says whether the
// builds dir is shared, names the driver and the host prepare_script prints after "via", picks the
// shell and adds job_env), then prepare_exec, then run_exec once per stage with the stage's script
// file and the stage name (step_script handed over as build_script, as GitLab does), and
// cleanup_exec at the end whatever happened, its output to the runner's log only. Each call runs
// in a temp dir of the job, with the protocol's environment (driver-protocol.ts) on top of the
// worker's minimal job environment: not the worker's own environment, as GitLab passes it, since a
// runmesh worker's environment may hold NATS credentials. The job payload is in that dir as
// JOB_RESPONSE_FILE (0600, the job token in it, as GitLab writes it) for every call, removed after
// cleanup_exec. Exit codes: 0 success, BUILD_FAILURE_EXIT_CODE a script failure (in run_exec its
// code from BUILD_EXIT_CODE_FILE; in config_exec or prepare_exec GitLab's BuildError: the job
// fails at once as script_failure), SYSTEM_FAILURE_EXIT_CODE and anything else a system failure,
// which prepare_executor retries after running cleanup_exec, config_exec again each time.
// Cache and artifacts: where GitLab runs its own binary on the target through run_exec, the
// worker runs those stages itself and moves files with transfer scripts through run_exec
// (driver-workspace.ts, transfer-scripts.ts: base64 in the script and framed on stdout), so a
// driver needs nothing but to run every stage's script, and the target only sh, find, tar, base64.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { z } from "zod";
import type { customSchema } from "../../config/executor-sections.ts";
import type { Logger } from "../../log/logger.ts";
import {
  type ConfigureContext,
  type Executor,
  ExecutorError,
  type JobShell,
  type LayoutOverride,
  type PrepareContext,
  type StageIO,
  type StageResult,
  type StageRun,
} from "../executor.ts";
import { minimalJobEnv } from "../shell/shell-executor.ts";
import { remoteWorkspace, type WorkspaceTransfer } from "../workspace-transfer.ts";
import { callDriver, type DriverOutcome } from "./driver-process.ts";
import {
  type ConfigOutput,
  classifyExit,
  driverEnv,
  parseConfigOutput,
  runExecStageName,
  type ServiceForDriver,
  startupLine,
} from "./driver-protocol.ts";
import { DriverProjectDir, type DriverScriptRunner } from "./driver-workspace.ts";

export type CustomSettings = z.output<typeof customSchema>;

export interface CustomExecutorOptions {
  settings: CustomSettings;
  runnerName: string;
  /** The environment driver calls start from. Default: minimalJobEnv(). */
  baseEnv?: Record<string, string>;
  /** Where the job's temp dirs go. Default: the OS temp dir. */
  tmpRoot?: string;
  /** The runner's log for this job: cleanup_exec's output (stdout debug, stderr warn). */
  log?: Logger;
}

/** The shells runmesh writes scripts for; config_exec's `shell` must name one. */
const SHELLS: readonly JobShell[] = ["bash", "sh"];

type Phase = "config_exec" | "prepare_exec" | "run_exec" | "cleanup_exec";

export class CustomExecutor implements Executor, DriverScriptRunner {
  readonly name = "custom";
  private tmpDir?: string;
  private config: ConfigOutput = {};
  private configOutput = "";
  private configureError?: Error;
  private variables: readonly { key: string; value: string }[] = [];
  private image = "";
  private services: readonly ServiceForDriver[] = [];
  /** The job's shell, for the extension of transfer scripts (which are POSIX sh). */
  private shell: JobShell = "bash";
  private jobResponse?: unknown;
  private jobResponseFile?: string;
  private scripts = 0;
  /** A prepare attempt failed: the next one starts over, as GitLab's does with a new executor. */
  private failedPrepare = false;

  constructor(private readonly o: CustomExecutorOptions) {}

  private where(phase: Phase): string {
    return `runner "${this.o.runnerName}": [runners.custom] ${phase}`;
  }

  /** The job's temp dir, with JOB_RESPONSE_FILE in it (GitLab: response.json, 0600). */
  private async ensureTmpDir(): Promise<string> {
    if (this.tmpDir) return this.tmpDir;
    const dir = await mkdtemp(join(this.o.tmpRoot ?? tmpdir(), "custom-executor"));
    this.tmpDir = dir;
    if (this.jobResponse !== undefined) {
      const file = join(dir, "response.json");
      await writeFile(file, `${JSON.stringify(this.jobResponse)}\n`, { mode: 0o600 });
      this.jobResponseFile = file;
    }
    return dir;
  }

  /** Where the job runs (config_exec's `hostname`), for prepare_script's "via". */
  get hostname(): string | undefined {
    return this.config.hostname || undefined;
  }

  async configure(ctx: ConfigureContext): Promise<LayoutOverride | undefined> {
    try {
      return await this.runConfig(ctx);
    } catch (error) {
      // GitLab's config_exec runs inside Prepare: its failure is prepare_executor's.
      this.configureError = error as Error;
      throw error;
    }
  }

  private async runConfig(ctx: ConfigureContext): Promise<LayoutOverride | undefined> {
    const s = this.o.settings;
    if (!s.run_exec)
      throw new ExecutorError(
        `runner "${this.o.runnerName}": [runners.custom] run_exec: missing; the custom executor needs the driver's run executable`,
        "runner_configuration_error",
      );
    this.variables = ctx.variables;
    this.image = ctx.image ?? "";
    if (ctx.services) this.services = ctx.services;
    if (ctx.jobResponse !== undefined) this.jobResponse = ctx.jobResponse;
    await this.ensureTmpDir();
    if (!s.config_exec) return undefined;
    const stdout: Uint8Array[] = [];
    const stderr: Uint8Array[] = [];
    const outcome = await this.call("config_exec", s.config_exec, s.config_args ?? [], {
      signal: ctx.signal,
      timeoutMs: s.config_exec_timeout * 1000,
      onStdout: (c) => stdout.push(c),
      onStderr: (c) => stderr.push(c),
    });
    // GitLab writes config_exec's stderr to the job log; it is replayed in prepare_executor.
    this.configOutput = Buffer.concat(stderr).toString("utf8");
    this.check("config_exec", outcome);
    const parsed = parseConfigOutput(Buffer.concat(stdout).toString("utf8"));
    if (!parsed.ok) throw new ExecutorError(`${this.where("config_exec")}: ${parsed.error}`);
    const c = parsed.config;
    const shell = c.shell as JobShell | undefined;
    if (shell !== undefined && !SHELLS.includes(shell))
      throw new ExecutorError(
        `${this.where("config_exec")}: shell ${JSON.stringify(c.shell)} is not one runmesh writes scripts for; print ${SHELLS.map((x) => JSON.stringify(x)).join(" or ")}`,
        "runner_configuration_error",
      );
    this.config = c;
    return {
      buildsDir: c.builds_dir,
      cacheDir: c.cache_dir,
      sharedBuildsDir: c.builds_dir_is_shared,
      shell,
    };
  }

  /** The driver's identity and job_env as config_exec gave them (hostname is kept for the log). */
  get driverConfig(): Readonly<ConfigOutput> {
    return this.config;
  }

  async prepare(ctx: PrepareContext): Promise<void> {
    try {
      await this.prepareOnce(ctx);
    } catch (error) {
      this.failedPrepare = true;
      throw error;
    }
  }

  private async prepareOnce(ctx: PrepareContext): Promise<void> {
    const s = this.o.settings;
    if (ctx.jobResponse !== undefined) this.jobResponse = ctx.jobResponse;
    if (ctx.services) this.services = ctx.services;
    this.shell = ctx.shell;
    if (this.failedPrepare) {
      // GitLab cleans a failed attempt up (cleanup_exec) and prepares a new executor: config_exec
      // runs again. The layout the first config_exec gave stays the job's.
      await this.cleanup();
      this.failedPrepare = false;
      this.configureError = undefined;
      this.config = {};
    }
    if (!this.tmpDir && !this.configureError)
      await this.configure({
        jobId: ctx.jobId,
        variables: ctx.variables ?? [],
        image: ctx.image?.name && ctx.expand ? ctx.expand(ctx.image.name) : ctx.image?.name,
        services: ctx.services,
        signal: ctx.signal,
        jobResponse: ctx.jobResponse,
      }).catch(() => {});
    for (const line of lines(this.configOutput)) ctx.log(line);
    this.configOutput = "";
    if (this.configureError) throw this.configureError;
    ctx.log(startupLine(this.config.driver));
    if (!ctx.buildsDir)
      throw new ExecutorError(
        `${this.where("config_exec")}: the builds_dir is not configured: set builds_dir in the runner entry or print it from config_exec`,
        "runner_configuration_error",
      );
    if (ctx.variables) this.variables = ctx.variables;
    if (ctx.image?.name) this.image = ctx.expand ? ctx.expand(ctx.image.name) : ctx.image.name;
    if (!s.prepare_exec) return;
    let pending = "";
    const onOutput = (c: Uint8Array) => {
      pending += Buffer.from(c).toString("utf8");
      const parts = pending.split("\n");
      pending = parts.pop() ?? "";
      for (const line of parts) ctx.log(line);
    };
    const outcome = await this.call("prepare_exec", s.prepare_exec, s.prepare_args ?? [], {
      signal: ctx.signal,
      timeoutMs: s.prepare_exec_timeout * 1000,
      onStdout: onOutput,
      onStderr: onOutput,
    });
    if (pending) ctx.log(pending);
    this.check("prepare_exec", outcome);
  }

  /** A fresh dir for one run_exec call's script and BUILD_EXIT_CODE_FILE. */
  private async scriptFiles(shell: JobShell) {
    const tmp = await this.ensureTmpDir();
    const dir = join(tmp, `script${++this.scripts}`);
    await mkdir(dir, { mode: 0o700 });
    return {
      dir,
      scriptFile: join(dir, `script.${shell === "bash" ? "bash" : "sh"}`),
      exitCodeFile: join(dir, "exit_code"),
    };
  }

  /**
   * The cache and artifact stages' view of the project dir: transfer scripts through run_exec
   * (driver-workspace.ts, transfer-scripts.ts).
   */
  workspace(projectDir: string): WorkspaceTransfer {
    return remoteWorkspace(new DriverProjectDir(this, projectDir, this.where("run_exec")));
  }

  /** DriverScriptRunner: one transfer script through run_exec; anything but exit 0 rejects. */
  async runScript(
    stage: string,
    write: (path: string) => Promise<void>,
    onStdout: (chunk: Uint8Array) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const s = this.o.settings;
    const { dir, scriptFile, exitCodeFile } = await this.scriptFiles(this.shell);
    try {
      await write(scriptFile);
      let stderr = "";
      const outcome = await this.call(
        "run_exec",
        s.run_exec ?? "",
        [...(s.run_args ?? []), scriptFile, stage],
        {
          signal,
          onStdout,
          onStderr: (c) => {
            stderr = (stderr + Buffer.from(c).toString("utf8")).slice(-2000);
          },
          buildExitCodeFile: exitCodeFile,
        },
      );
      const where = `${this.where("run_exec")} for stage ${stage}`;
      if (outcome.kind !== "exited")
        throw new ExecutorError(`${where}: stopped, the job was canceled or aborted`);
      if (outcome.code !== 0)
        throw new ExecutorError(
          `${where}: exited ${outcome.code}${stderr.trim() ? `: ${stderr.trim()}` : ""}`,
        );
    } finally {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    }
  }

  async run(stage: StageRun, io: StageIO, signal: AbortSignal): Promise<StageResult> {
    const s = this.o.settings;
    const { dir, scriptFile, exitCodeFile } = await this.scriptFiles(stage.shell);
    await writeFile(scriptFile, stage.script, { mode: 0o700 });
    const stageName = runExecStageName(stage.stage);
    if (stageName !== stage.stage)
      this.o.log?.warn(
        `Starting with version 17.0 the '${stageName}' stage will be replaced with '${stage.stage}': https://gitlab.com/groups/gitlab-org/-/epics/6112`,
      );
    const outcome = await this.call(
      "run_exec",
      s.run_exec ?? "",
      [...(s.run_args ?? []), scriptFile, stageName],
      {
        signal,
        onStdout: (c) => io.onOutput(c, "stdout"),
        onStderr: (c) => io.onOutput(c, "stderr"),
        buildExitCodeFile: exitCodeFile,
        extra: stage.env,
      },
    );
    const fileText = await readFile(exitCodeFile, "utf8").catch(() => undefined);
    // The stage's script and exit code file go once the stage ends.
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    if (outcome.kind === "dormant") return { exitCode: -1, aborted: true };
    if (outcome.kind === "stopped") return { exitCode: outcome.code, aborted: true };
    const exit = classifyExit(outcome.code, fileText);
    switch (exit.kind) {
      case "success":
        return { exitCode: 0, aborted: false };
      case "build_failure":
        return { exitCode: exit.exitCode, aborted: false };
      case "system_failure":
        throw new ExecutorError(
          `${this.where("run_exec")} for stage ${stage.stage}: exited with SYSTEM_FAILURE_EXIT_CODE (${outcome.code})`,
        );
      case "unknown":
        throw new ExecutorError(`${this.where("run_exec")} for stage ${stage.stage}: ${exit.message}`);
    }
  }

  async cleanup(): Promise<void> {
    const s = this.o.settings;
    try {
      if (s.cleanup_exec && this.tmpDir) {
        // GitLab runs cleanup_exec on its own deadline, not the job's (already over), its stdout
        // to the runner's log at debug and its stderr at warning, never to the job log.
        const log = this.o.log;
        const out = lineSink((line) => log?.debug({ cleanup_std: "out" }, line));
        const err = lineSink((line) => log?.warn({ cleanup_std: "err" }, line));
        const outcome = await this.call("cleanup_exec", s.cleanup_exec, s.cleanup_args ?? [], {
          signal: new AbortController().signal,
          timeoutMs: s.cleanup_exec_timeout * 1000,
          onStdout: out.write,
          onStderr: err.write,
        }).catch((error: Error) => error);
        out.end();
        err.end();
        const failure = outcome instanceof Error ? outcome.message : cleanupFailure(outcome);
        if (failure) log?.warn(`Cleanup script failed: ${failure}`);
      }
    } finally {
      if (this.tmpDir) await rm(this.tmpDir, { recursive: true, force: true }).catch(() => {});
      this.tmpDir = undefined;
      this.jobResponseFile = undefined;
    }
  }

  private call(
    phase: Phase,
    executable: string,
    args: readonly string[],
    o: {
      signal: AbortSignal;
      timeoutMs?: number;
      onStdout(c: Uint8Array): void;
      onStderr(c: Uint8Array): void;
      buildExitCodeFile?: string;
      extra?: Record<string, string>;
    },
  ): Promise<DriverOutcome> {
    const s = this.o.settings;
    const tmp = this.tmpDir ?? tmpdir();
    const env = {
      ...(this.o.baseEnv ?? minimalJobEnv()),
      ...driverEnv({
        tmpDir: tmp,
        variables: this.variables,
        jobEnv: this.config.job_env,
        buildExitCodeFile: o.buildExitCodeFile,
        jobResponseFile: this.jobResponseFile,
        jobImage: this.image,
        services: this.services,
        extra: o.extra,
      }),
    };
    return callDriver({
      executable,
      args,
      env,
      cwd: tmp,
      onStdout: o.onStdout,
      onStderr: o.onStderr,
      signal: o.signal,
      timeoutMs: o.timeoutMs,
      gracefulKillMs: s.graceful_kill_timeout * 1000,
      forceKillMs: s.force_kill_timeout * 1000,
    }).catch((error: Error) => {
      throw new ExecutorError(`${this.where(phase)} ${JSON.stringify(executable)}: ${error.message}`);
    });
  }

  /** config_exec and prepare_exec: anything but a clean exit fails the job's preparation. */
  private check(phase: Phase, outcome: DriverOutcome): void {
    if (outcome.kind === "exited") {
      const exit = classifyExit(outcome.code);
      if (exit.kind === "success") return;
      // GitLab's BuildError: the job fails now, as a script failure, without another attempt.
      if (exit.kind === "build_failure")
        throw new ExecutorError(
          `${this.where(phase)}: exited with BUILD_FAILURE_EXIT_CODE (${outcome.code})`,
          "script_failure",
          exit.exitCode,
        );
      if (exit.kind === "system_failure")
        throw new ExecutorError(
          `${this.where(phase)}: exited with SYSTEM_FAILURE_EXIT_CODE (${outcome.code})`,
        );
      throw new ExecutorError(`${this.where(phase)}: ${exit.message}`);
    }
    if (outcome.why === "timeout") {
      const seconds =
        phase === "config_exec"
          ? this.o.settings.config_exec_timeout
          : phase === "prepare_exec"
            ? this.o.settings.prepare_exec_timeout
            : this.o.settings.cleanup_exec_timeout;
      throw new ExecutorError(
        `${this.where(phase)}: did not finish within ${phase}_timeout (${seconds} s)${outcome.kind === "dormant" ? "; the process did not die after SIGKILL (force_kill_timeout)" : ""}`,
      );
    }
    throw new ExecutorError(`${this.where(phase)}: stopped, the job was canceled or aborted`);
  }
}

/** Why cleanup_exec failed, or undefined when it exited 0. */
function cleanupFailure(outcome: DriverOutcome): string | undefined {
  if (outcome.kind === "exited") return outcome.code === 0 ? undefined : `exit status ${outcome.code}`;
  return outcome.kind === "dormant"
    ? "did not finish within cleanup_exec_timeout and did not die after SIGKILL"
    : "did not finish within cleanup_exec_timeout";
}

/** Splits a byte stream into lines for a line-per-event log. */
function lineSink(emit: (line: string) => void) {
  let pending = "";
  return {
    write: (c: Uint8Array) => {
      pending += Buffer.from(c).toString("utf8");
      const parts = pending.split("\n");
      pending = parts.pop() ?? "";
      for (const line of parts) emit(line);
    },
    end: () => {
      if (pending) emit(pending);
      pending = "";
    },
  };
}

function lines(text: string): string[] {
  if (!text) return [];
  const all = text.split("\n");
  if (all.at(-1) === "") all.pop();
  return all;
}
