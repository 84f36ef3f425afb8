// The shell executor: each stage's script runs in `bash -l` (or `sh -l`) on this host, fed on
// stdin (from a file: see scriptOnStdin), as GitLab Runner's executors/shell does. The shell
// leads its own process group so a cancel reaches every process the script started: SIGTERM to
// the group, a grace period, SIGKILL, a last wait (GitLab's graceful_kill_timeout /
// force_kill_timeout). With `--user`, `su -c` would start the shell in a session (and process
// group) of its own, out of reach of that signal: util-linux su's `--session-command` keeps it in
// su's group instead.
import { spawnSync } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, mkdtemp, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
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
  private readonly running = new Set<Subprocess>();

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
    let child: Subprocess<number, "pipe", "pipe">;
    try {
      // Bun.spawn rather than node:child_process: about half the parent's CPU per spawn (issue 16).
      child = Bun.spawn([command, ...args], {
        detached: true,
        env,
        stdin: script.fd,
        stdout: "pipe",
        stderr: "pipe",
      });
    } catch (error) {
      throw new ExecutorError(`starting ${command} for stage ${stage.stage}: ${(error as Error).message}`);
    } finally {
      script.close();
    }
    this.running.add(child);
    let aborted = false;
    let exited = false;
    const timers: ReturnType<typeof setTimeout>[] = [];
    const onAbort = () => {
      if (aborted || exited) return;
      aborted = true;
      killGroup(child, "SIGTERM");
      timers.push(
        setTimeout(() => {
          if (exited) return;
          killGroup(child, "SIGKILL");
          // A process that survives SIGKILL is stuck in the kernel; give up waiting for it.
          timers.push(setTimeout(() => gaveUp(), this.o.forceKillTimeoutMs ?? DEFAULT_FORCE_KILL_MS));
        }, this.o.gracefulKillTimeoutMs ?? DEFAULT_GRACEFUL_KILL_MS),
      );
    };
    let gaveUp: () => void = () => {};
    const stuck = new Promise<"stuck">((r) => {
      gaveUp = () => r("stuck");
    });
    const output = Promise.all([
      pump(child.stdout, (chunk) => io.onOutput(chunk, "stdout")),
      pump(child.stderr, (chunk) => io.onOutput(chunk, "stderr")),
    ]);
    const done = (async () => {
      const code = await child.exited;
      exited = true;
      // Nothing a stage started may outlive it: background children would hold the output
      // pipes open (the job would hang) or leak onto the worker.
      killGroup(child, "SIGKILL");
      await output;
      return code;
    })();
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    try {
      const code = await Promise.race([done, stuck]);
      return { exitCode: code === "stuck" ? -1 : child.signalCode ? -1 : code, aborted };
    } catch (error) {
      throw new ExecutorError(`running ${command} for stage ${stage.stage}: ${(error as Error).message}`);
    } finally {
      for (const t of timers) clearTimeout(t);
      signal.removeEventListener("abort", onAbort);
      this.running.delete(child);
    }
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

/** Hands each chunk of a child's output to `onChunk` as it arrives, until the pipe closes. */
async function pump(stream: ReadableStream<Uint8Array>, onChunk: (chunk: Buffer) => void): Promise<void> {
  for await (const chunk of stream) onChunk(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
}

/** This process's private directory for stage scripts (0700), made once. */
let scriptDir: Promise<string> | undefined;
let scriptSeq = 0;

/**
 * The script as the shell's stdin: an unlinked private file rather than a pipe. bash reads a pipe
 * one byte at a time (a stage carrying a 20 MiB variable took 12 s to read) while the writer held
 * the worker's event loop, heartbeats included; a file it reads in blocks. The open descriptor is
 * all that is left of the file once the shell has it. The files live in one private directory
 * made per process, not one per stage (a mkdtemp and a recursive rm per stage cost ~1 ms, issue 16).
 */
async function scriptOnStdin(script: string): Promise<{ fd: number; close(): void }> {
  scriptDir ??= mkdtemp(join(tmpdir(), "runmesh-stage-"));
  const dir = await scriptDir.catch((e) => {
    scriptDir = undefined; // e.g. TMPDIR was full: the next stage tries again
    throw e;
  });
  const path = join(dir, `${process.pid}-${++scriptSeq}`);
  try {
    await writeFile(path, script, { mode: 0o600, flag: "wx" });
    const fd = openSync(path, "r");
    return { fd, close: () => closeSync(fd) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") scriptDir = undefined; // someone removed it
    throw error;
  } finally {
    await unlink(path).catch(() => {});
  }
}

function killGroup(child: Subprocess, sig: NodeJS.Signals): void {
  try {
    process.kill(-child.pid, sig);
  } catch {
    // the group is already gone
  }
}
