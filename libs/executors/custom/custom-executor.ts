// The custom executor (GitLab Runner's executors/custom): the job runs through the driver the
// runner entry names. config_exec first (its JSON moves builds_dir / cache_dir, says whether the
// builds dir is shared, names the driver and adds job_env), then prepare_exec, then run_exec once
// per stage with the stage's script file and the stage name, and cleanup_exec at the end whatever
// happened. Each call runs in a temp dir of the job, with the protocol's environment
// (driver-protocol.ts) on top of the worker's minimal job environment: not the worker's own
// environment, as GitLab passes it, since a runmesh worker's environment may hold NATS
// credentials. Exit codes: 0 success, BUILD_FAILURE_EXIT_CODE a script failure (its code from
// BUILD_EXIT_CODE_FILE), SYSTEM_FAILURE_EXIT_CODE and anything else a system failure.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { z } from "zod";
import type { customSchema } from "../../config/executor-sections.ts";
import {
  type ConfigureContext,
  type Executor,
  ExecutorError,
  type LayoutOverride,
  type PrepareContext,
  type StageIO,
  type StageResult,
  type StageRun,
} from "../executor.ts";
import { minimalJobEnv } from "../shell/shell-executor.ts";
import { callDriver, type DriverOutcome } from "./driver-process.ts";
import {
  type ConfigOutput,
  classifyExit,
  driverEnv,
  parseConfigOutput,
  startupLine,
} from "./driver-protocol.ts";

export type CustomSettings = z.output<typeof customSchema>;

export interface CustomExecutorOptions {
  settings: CustomSettings;
  runnerName: string;
  /** The environment driver calls start from. Default: minimalJobEnv(). */
  baseEnv?: Record<string, string>;
  /** Where the job's temp dirs go. Default: the OS temp dir. */
  tmpRoot?: string;
}

type Phase = "config_exec" | "prepare_exec" | "run_exec" | "cleanup_exec";

export class CustomExecutor implements Executor {
  readonly name = "custom";
  private tmpDir?: string;
  private config: ConfigOutput = {};
  private configOutput = "";
  private configureError?: Error;
  private variables: readonly { key: string; value: string }[] = [];
  private image = "";
  private scripts = 0;

  constructor(private readonly o: CustomExecutorOptions) {}

  private where(phase: Phase): string {
    return `runner "${this.o.runnerName}": [runners.custom] ${phase}`;
  }

  private async ensureTmpDir(): Promise<string> {
    this.tmpDir ??= await mkdtemp(join(this.o.tmpRoot ?? tmpdir(), "custom-executor"));
    return this.tmpDir;
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
    this.config = parsed.config;
    const c = parsed.config;
    return { buildsDir: c.builds_dir, cacheDir: c.cache_dir, sharedBuildsDir: c.builds_dir_is_shared };
  }

  /** The driver's identity and job_env as config_exec gave them (hostname is kept for the log). */
  get driverConfig(): Readonly<ConfigOutput> {
    return this.config;
  }

  async prepare(ctx: PrepareContext): Promise<void> {
    const s = this.o.settings;
    if (!this.tmpDir && !this.configureError)
      await this.configure({ jobId: ctx.jobId, variables: ctx.variables ?? [], signal: ctx.signal });
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

  async run(stage: StageRun, io: StageIO, signal: AbortSignal): Promise<StageResult> {
    const s = this.o.settings;
    const tmp = await this.ensureTmpDir();
    const dir = join(tmp, `script${++this.scripts}`);
    await mkdir(dir, { mode: 0o700 });
    const scriptFile = join(dir, `script.${stage.shell === "bash" ? "bash" : "sh"}`);
    const exitCodeFile = join(dir, "exit_code");
    await writeFile(scriptFile, stage.script, { mode: 0o700 });
    const outcome = await this.call(
      "run_exec",
      s.run_exec ?? "",
      [...(s.run_args ?? []), scriptFile, stage.stage],
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
        // GitLab runs cleanup_exec on its own deadline, not the job's (already over), output to
        // the runner's log only.
        await this.call("cleanup_exec", s.cleanup_exec, s.cleanup_args ?? [], {
          signal: new AbortController().signal,
          timeoutMs: s.cleanup_exec_timeout * 1000,
          onStdout: () => {},
          onStderr: () => {},
        }).catch(() => {});
      }
    } finally {
      if (this.tmpDir) await rm(this.tmpDir, { recursive: true, force: true }).catch(() => {});
      this.tmpDir = undefined;
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
        jobImage: this.image,
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
      if (exit.kind === "build_failure")
        throw new ExecutorError(
          `${this.where(phase)}: exited with BUILD_FAILURE_EXIT_CODE (${outcome.code})`,
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

function lines(text: string): string[] {
  if (!text) return [];
  const all = text.split("\n");
  if (all.at(-1) === "") all.pop();
  return all;
}
