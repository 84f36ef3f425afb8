// The ssh executor (GitLab Runner's executors/ssh): each stage's script is fed on stdin to
// `bash -l` (or `sh -l`) in a channel of the worker's one connection to the host
// (libs/ssh/connector.ts), output streamed to the trace as it arrives. sshd starts the command
// in a session of its own whose leader is the login shell; the wrapper prints that shell's pid
// (its process group) before `exec`ing the job's shell, so a cancel or abort reaches every
// process of the stage: `kill -TERM -- -pgid` on another channel, graceful_kill_timeout,
// `kill -KILL`, force_kill_timeout, as the shell executor does on its host.
import type { SshConnection, SshConnector, SshTarget } from "../../ssh/connector.ts";
import {
  type Executor,
  ExecutorError,
  type LayoutOverride,
  type PrepareContext,
  type StageIO,
  type StageResult,
  type StageRun,
} from "../executor.ts";
import { remoteWorkspace, type WorkspaceTransfer } from "../workspace-transfer.ts";
import { remoteDir } from "./provider.ts";
import { SshProjectDir } from "./ssh-workspace.ts";

export interface SshExecutorOptions {
  connector: SshConnector;
  target: SshTarget;
  /** Names the runner entry in errors. */
  runnerName: string;
  /** builds_dir / cache_dir as configured (default "builds" / "cache"), resolved on the host. */
  buildsDir?: string;
  cacheDir?: string;
  gracefulKillTimeoutMs?: number;
  forceKillTimeoutMs?: number;
}

const PGID_PREFIX = "RUNMESH_PGID=";
const DEFAULT_GRACEFUL_KILL_MS = 10 * 60_000;
const DEFAULT_FORCE_KILL_MS = 10_000;

/** The remote command line for a stage: its process group announced, then the job's shell. */
export function stageCommand(shell: "bash" | "sh", env: Record<string, string> = {}): string {
  const exports = Object.entries(env)
    .map(([k, v]) => `export ${k}=${shellQuote(v)}; `)
    .join("");
  return `printf '${PGID_PREFIX}%s\\n' "$$"; ${exports}exec ${shell} -l`;
}

export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'"'"'`)}'`;
}

/** The login directory of each pooled connection's user, asked once per connection. */
const loginDirs = new WeakMap<SshConnection, string>();

export class SshExecutor implements Executor {
  readonly name = "ssh";
  private connection?: SshConnection;
  private readonly groups = new Set<number>();

  constructor(private readonly o: SshExecutorOptions) {}

  private where(): string {
    const t = this.o.target;
    return `runner "${this.o.runnerName}": [runners.ssh] ${t.user}@${t.host}:${t.port}`;
  }

  /**
   * The builds and cache dirs under the user's login directory as the host has it (`pwd` of a
   * session, where sshd starts it), not as assumed from the user name. Undefined when the host
   * cannot be reached: prepare reports that.
   */
  async configure(): Promise<LayoutOverride | undefined> {
    const connection = await this.o.connector.connect(this.o.target).catch(() => undefined);
    if (!connection) return undefined;
    let home = loginDirs.get(connection);
    if (home === undefined) {
      const r = await connection.output("pwd").catch(() => undefined);
      if (r?.code !== 0 || !r.stdout.trim().startsWith("/")) return undefined;
      home = r.stdout.trim();
      loginDirs.set(connection, home);
    }
    return {
      buildsDir: remoteDir(this.o.buildsDir || "builds", home),
      cacheDir: remoteDir(this.o.cacheDir || "cache", home),
    };
  }

  async prepare(ctx: PrepareContext): Promise<void> {
    ctx.log(`Using SSH executor...`);
    try {
      this.connection = await this.o.connector.connect(this.o.target);
    } catch (error) {
      throw new ExecutorError(`${this.where()}: ${(error as Error).message}`);
    }
    const r = await this.connection.output(`mkdir -p ${shellQuote(ctx.buildsDir)}`).catch((e: Error) => {
      throw new ExecutorError(`${this.where()}: ${e.message}`);
    });
    if (r.code !== 0)
      throw new ExecutorError(
        `${this.where()}: creating builds_dir ${ctx.buildsDir} on the host: ${r.stderr.trim()}; set builds_dir to a directory the user can write`,
        "runner_configuration_error",
      );
  }

  async run(stage: StageRun, io: StageIO, signal: AbortSignal): Promise<StageResult> {
    const connection = this.connection;
    if (!connection) throw new ExecutorError(`${this.where()}: stage ${stage.stage} before prepare`);
    let pgid: number | undefined;
    let head: Buffer | undefined = Buffer.alloc(0);
    let aborted = false;
    let exited = false;
    const timers: ReturnType<typeof setTimeout>[] = [];
    let giveUp: (() => void) | undefined;
    const gaveUp = new Promise<"gave-up">((resolve) => {
      giveUp = () => resolve("gave-up");
    });

    const kill = (sig: "TERM" | "KILL") => {
      if (pgid !== undefined) void this.killGroup(pgid, sig);
    };
    const onAbort = () => {
      if (aborted || exited) return;
      aborted = true;
      kill("TERM");
      timers.push(
        setTimeout(() => {
          kill("KILL");
          timers.push(setTimeout(() => giveUp?.(), this.o.forceKillTimeoutMs ?? DEFAULT_FORCE_KILL_MS));
        }, this.o.gracefulKillTimeoutMs ?? DEFAULT_GRACEFUL_KILL_MS),
      );
    };

    const onStdout = (chunk: Uint8Array) => {
      if (head === undefined) {
        io.onOutput(chunk, "stdout");
        return;
      }
      // The first line is the wrapper's, never the job's: it names the process group.
      head = Buffer.concat([head, chunk]);
      const nl = head.indexOf(10);
      if (nl < 0) return;
      const line = head.subarray(0, nl).toString("utf8");
      const rest = head.subarray(nl + 1);
      head = undefined;
      if (line.startsWith(PGID_PREFIX)) {
        pgid = Number(line.slice(PGID_PREFIX.length));
        this.groups.add(pgid);
        if (aborted) kill("TERM");
      }
      if (rest.length > 0) io.onOutput(rest, "stdout");
    };

    if (signal.aborted) return { exitCode: -1, aborted: true };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      const running = connection
        .exec(
          stageCommand(stage.shell, stage.env),
          { onStdout, onStderr: (c) => io.onOutput(c, "stderr") },
          stage.script,
        )
        .finally(() => {
          exited = true;
          // Nothing a stage started may outlive it (and hold the channel open).
          if (pgid !== undefined) {
            void this.killGroup(pgid, "KILL");
            this.groups.delete(pgid);
          }
        });
      const done = await Promise.race([running, gaveUp]);
      if (done === "gave-up") return { exitCode: -1, aborted: true };
      return { exitCode: done.code, aborted };
    } catch (error) {
      throw new ExecutorError(`${this.where()}: stage ${stage.stage}: ${(error as Error).message}`);
    } finally {
      for (const t of timers) clearTimeout(t);
      signal.removeEventListener("abort", onAbort);
    }
  }

  private async killGroup(pgid: number, sig: "TERM" | "KILL"): Promise<void> {
    if (!Number.isInteger(pgid) || pgid <= 1) return;
    await this.connection
      ?.exec(`kill -${sig} -- -${pgid} 2>/dev/null; true`, {}, undefined, { control: true })
      .catch(() => {});
  }

  /** Cache and artifact stages reach the project dir over the job's connection (ssh-workspace.ts). */
  workspace(projectDir: string): WorkspaceTransfer {
    if (!this.connection) throw new ExecutorError(`${this.where()}: workspace transfer before prepare`);
    return remoteWorkspace(new SshProjectDir(this.connection, projectDir, this.where()));
  }

  async cleanup(): Promise<void> {
    await Promise.all([...this.groups].map((g) => this.killGroup(g, "KILL")));
    this.groups.clear();
    // The connection stays in the connector's pool for the next job.
    this.connection = undefined;
  }
}
