// One call of a custom executor's driver (config_exec, prepare_exec, run_exec, cleanup_exec): a
// process leading its own group, output streamed as it comes, stopped as GitLab Runner's
// helpers/process does on cancel or timeout: SIGTERM to the group, graceful_kill_timeout,
// SIGKILL, force_kill_timeout, then given up as dormant.
import { type ChildProcess, spawn } from "node:child_process";

export interface DriverCall {
  executable: string;
  args: readonly string[];
  env: Record<string, string>;
  cwd: string;
  onStdout(chunk: Uint8Array): void;
  onStderr(chunk: Uint8Array): void;
  /** Stops the call (the job was canceled or aborted). */
  signal: AbortSignal;
  /** The call's own deadline (config/prepare/cleanup_exec_timeout); none for run_exec. */
  timeoutMs?: number;
  gracefulKillMs: number;
  forceKillMs: number;
}

export type DriverOutcome =
  | { kind: "exited"; code: number }
  | { kind: "stopped"; why: "signal" | "timeout"; code: number }
  | { kind: "dormant"; why: "signal" | "timeout" };

/** Rejects only when the executable could not be started. */
export function callDriver(c: DriverCall): Promise<DriverOutcome> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(c.executable, [...c.args], {
        detached: true,
        env: c.env,
        cwd: c.cwd,
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (error) {
      reject(new Error(`failed to start command: ${(error as Error).message}`));
      return;
    }
    let stopping: "signal" | "timeout" | undefined;
    let exitCode: number | undefined;
    let settled = false;
    const timers: ReturnType<typeof setTimeout>[] = [];
    const settle = (outcome: DriverOutcome | Error) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      c.signal.removeEventListener("abort", onAbort);
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const stop = (why: "signal" | "timeout") => {
      if (stopping || exitCode !== undefined) return;
      stopping = why;
      killGroup(child, "SIGTERM");
      timers.push(
        setTimeout(() => {
          killGroup(child, "SIGKILL");
          timers.push(setTimeout(() => settle({ kind: "dormant", why }), c.forceKillMs));
        }, c.gracefulKillMs),
      );
    };
    const onAbort = () => stop("signal");
    child.stdout?.on("data", (b: Buffer) => c.onStdout(b));
    child.stderr?.on("data", (b: Buffer) => c.onStderr(b));
    child.on("error", (error) => settle(new Error(`failed to start command: ${error.message}`)));
    child.on("exit", (code, sig) => {
      exitCode = code ?? (sig ? 128 + signalNumber(sig) : -1);
      // Nothing a driver call started may outlive it (and hold its output pipes open).
      killGroup(child, "SIGKILL");
    });
    child.on("close", () => {
      const code = exitCode ?? -1;
      settle(stopping ? { kind: "stopped", why: stopping, code } : { kind: "exited", code });
    });
    if (c.timeoutMs !== undefined) timers.push(setTimeout(() => stop("timeout"), c.timeoutMs));
    if (c.signal.aborted) onAbort();
    else c.signal.addEventListener("abort", onAbort, { once: true });
  });
}

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    // the group is already gone
  }
}

function signalNumber(sig: NodeJS.Signals): number {
  return sig === "SIGKILL" ? 9 : sig === "SIGTERM" ? 15 : sig === "SIGINT" ? 2 : 1;
}
