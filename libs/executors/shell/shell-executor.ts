// The shell executor: each stage's script runs in `bash -l` (or `sh -l`) on this host, fed on
// stdin (from a file: see scriptOnStdin), as GitLab Runner's executors/shell does. The shell
// leads its own process group so a cancel reaches every process the script started: SIGTERM to
// the group, a grace period, SIGKILL, a last wait (GitLab's graceful_kill_timeout /
// force_kill_timeout). With `--user`, `su -c` would start the shell in a session (and process
// group) of its own, out of reach of that signal: util-linux su's `--session-command` keeps it in
// su's group instead.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Executor,
  ExecutorError,
  type PrepareContext,
  type StageIO,
  type StageResult,
  type StageRun,
} from "../executor.ts";
import { localWorkspace, type WorkspaceTransfer } from "../workspace-transfer.ts";

export interface ShellExecutorOptions {
  /** GitLab Runner's `run --user`: scripts run as this OS user through `su` (needs root). */
  user?: string;
  /** After SIGTERM, how long the script gets before SIGKILL. Default 10 min (GitLab). */
  gracefulKillTimeoutMs?: number;
  /** After SIGKILL, how long to wait for the process to be reaped. Default 10 s (GitLab). */
  forceKillTimeoutMs?: number;
  /** `bash -l`: a login shell, as GitLab Runner runs it (so /etc/profile applies). Default true. */
  loginShell?: boolean;
  /**
   * Environment the scripts start from. Default: `minimalJobEnv()`, NOT this process's
   * environment (GitLab passes os.Environ(); a runmesh worker's environment may hold NATS
   * credentials, which a job must not read). Job variables are exported by the script itself.
   */
  baseEnv?: Record<string, string | undefined>;
}

/** Names passed from the worker's environment to jobs: locale, paths and proxies, no secrets. */
export const PASSED_ENV_NAMES = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LANGUAGE",
  "LC_ALL",
  "LC_CTYPE",
  "TZ",
  "TERM",
  "TMPDIR",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
] as const;

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The base environment of a job: the PASSED_ENV_NAMES present in `from` (this process by
 * default), PATH always set. With `run --user`, `su` replaces HOME, USER, LOGNAME and SHELL
 * with the target user's.
 */
export function minimalJobEnv(
  from: Record<string, string | undefined> = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of PASSED_ENV_NAMES) {
    const value = from[name];
    if (value !== undefined) env[name] = value;
  }
  env.PATH ??= DEFAULT_PATH;
  return env;
}

let sessionCommand: boolean | undefined;

/**
 * Whether this host's su has util-linux's `--session-command` (-c without a new session). Safe
 * here: the job has no controlling terminal (spawned detached, stdin a file), so the TIOCSTI
 * injection that made `-c` start a new session cannot happen.
 */
export function suKeepsSession(): boolean {
  sessionCommand ??= (spawnSync("su", ["--help"], { encoding: "utf8" }).stdout ?? "").includes(
    "--session-command",
  );
  return sessionCommand;
}

const DEFAULT_GRACEFUL_KILL_MS = 10 * 60_000;
const DEFAULT_FORCE_KILL_MS = 10_000;

export class ShellExecutor implements Executor {
  readonly name = "shell";
  private readonly running = new Set<ChildProcess>();

  /** On this host as the worker's user, unless `--user` runs jobs as someone else (Executor.local). */
  readonly local: boolean;

  constructor(private readonly o: ShellExecutorOptions = {}) {
    this.local = !o.user;
  }

  async prepare(ctx: PrepareContext): Promise<void> {
    try {
      await mkdir(ctx.buildsDir, { recursive: true });
    } catch (error) {
      throw new ExecutorError(
        `creating builds_dir ${ctx.buildsDir}: ${(error as Error).message}; check the runner's builds_dir setting and its permissions`,
        "runner_configuration_error",
      );
    }
    ctx.log(`Using Shell (${ctx.shell}) executor...`);
  }

  /**
   * The command line: `bash -l`, or with a user `su -s /bin/bash <user> --session-command 'bash -l'`
   * (`-c` where su has no --session-command: the job's processes then escape a cancel).
   */
  commandFor(shell: "bash" | "sh", keepSession = suKeepsSession()): [string, string[]] {
    const login = this.o.loginShell ?? true;
    const shellArgs = login ? ["-l"] : [];
    if (!this.o.user) return [shell, shellArgs];
    const flag = keepSession ? "--session-command" : "-c";
    return ["su", ["-s", `/bin/${shell}`, this.o.user, flag, [shell, ...shellArgs].join(" ")]];
  }

  async run(stage: StageRun, io: StageIO, signal: AbortSignal): Promise<StageResult> {
    const [command, args] = this.commandFor(stage.shell);
    const env = { ...(this.o.baseEnv ?? minimalJobEnv()), ...stage.env };
    const script = await scriptOnStdin(stage.script);
    return new Promise<StageResult>((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawn(command, args, { detached: true, env, stdio: [script.fd, "pipe", "pipe"] });
      } catch (error) {
        reject(
          new ExecutorError(`starting ${command} for stage ${stage.stage}: ${(error as Error).message}`),
        );
        return;
      } finally {
        script.close();
      }
      this.running.add(child);
      let aborted = false;
      let exit: { code: number | null; sig: NodeJS.Signals | null } | undefined;
      let settled = false;
      const timers: ReturnType<typeof setTimeout>[] = [];

      const finish = (result: StageResult | Error) => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        signal.removeEventListener("abort", onAbort);
        this.running.delete(child);
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      const result = (): StageResult => ({
        exitCode: exit?.code ?? -1,
        aborted,
      });

      const onAbort = () => {
        if (aborted || exit) return;
        aborted = true;
        killGroup(child, "SIGTERM");
        timers.push(
          setTimeout(() => {
            if (exit) return;
            killGroup(child, "SIGKILL");
            // A process that survives SIGKILL is stuck in the kernel; give up waiting for it.
            timers.push(
              setTimeout(() => finish(result()), this.o.forceKillTimeoutMs ?? DEFAULT_FORCE_KILL_MS),
            );
          }, this.o.gracefulKillTimeoutMs ?? DEFAULT_GRACEFUL_KILL_MS),
        );
      };

      child.stdout?.on("data", (chunk: Buffer) => io.onOutput(chunk, "stdout"));
      child.stderr?.on("data", (chunk: Buffer) => io.onOutput(chunk, "stderr"));
      child.on("error", (error) => {
        finish(new ExecutorError(`running ${command} for stage ${stage.stage}: ${error.message}`));
      });
      child.on("exit", (code, sig) => {
        exit = { code, sig };
        // Nothing a stage started may outlive it: background children would hold the output
        // pipes open (the job would hang) or leak onto the worker.
        killGroup(child, "SIGKILL");
      });
      child.on("close", () => finish(result()));

      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  async cleanup(): Promise<void> {
    for (const child of this.running) killGroup(child, "SIGKILL");
    this.running.clear();
  }

  /** The project dir is on this host: the worker's stages work in place. */
  workspace(projectDir: string): WorkspaceTransfer {
    return localWorkspace(projectDir);
  }
}

/**
 * The script as the shell's stdin: an unlinked private file rather than a pipe. bash reads a pipe
 * one byte at a time (a stage carrying a 20 MiB variable took 12 s to read) while the writer held
 * the worker's event loop, heartbeats included; a file it reads in blocks. The open descriptor is
 * all that is left of the file once the shell has it.
 */
async function scriptOnStdin(script: string): Promise<{ fd: number; close(): void }> {
  const dir = await mkdtemp(join(tmpdir(), "runmesh-stage-"));
  const path = join(dir, "script");
  try {
    await writeFile(path, script, { mode: 0o600 });
    const fd = openSync(path, "r");
    return { fd, close: () => closeSync(fd) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    // the group is already gone
  }
}
