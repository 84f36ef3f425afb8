// Runs runmesh tiers as real processes (from source, or a compiled binary) and keeps their
// output, so fault tests can kill one by pid at an exact moment.
import { join } from "node:path";
import type { Subprocess } from "bun";

const ROOT = join(import.meta.dir, "..", "..");
export const BUN = join(ROOT, "node_modules", ".bin", "bun");
export const RUNMESH_MAIN = join(ROOT, "services", "runmesh", "main.ts");

export interface MeshProcess {
  proc: Subprocess;
  lines: string[];
  /** Resolves when a log line contains `text`. */
  waitFor(text: string, timeoutMs?: number): Promise<string>;
  kill(signal?: NodeJS.Signals | number): void;
  exited: Promise<number>;
}

export function spawnRunmesh(
  args: string[],
  opts: { env?: Record<string, string>; binary?: string; cwd?: string } = {},
): MeshProcess {
  const cmd = opts.binary ? [opts.binary, ...args] : [BUN, RUNMESH_MAIN, ...args];
  const proc = Bun.spawn(cmd, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, RUNMESH_LOG_LEVEL: "debug", ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines: string[] = [];
  const waiters: { text: string; resolve: (l: string) => void }[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    let carry = "";
    for await (const chunk of stream) {
      carry += dec.decode(chunk, { stream: true });
      const parts = carry.split("\n");
      carry = parts.pop() ?? "";
      for (const l of parts) {
        lines.push(l);
        for (const w of [...waiters]) {
          if (l.includes(w.text)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(l);
          }
        }
      }
    }
    if (carry) lines.push(carry);
  };
  void pump(proc.stdout as ReadableStream<Uint8Array>);
  void pump(proc.stderr as ReadableStream<Uint8Array>);
  return {
    proc,
    lines,
    waitFor(text, timeoutMs = 20_000) {
      const seen = lines.find((l) => l.includes(text));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { text, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) {
            waiters.splice(i, 1);
            reject(
              new Error(
                `no line containing "${text}" within ${timeoutMs} ms; output:\n${lines.slice(-30).join("\n")}`,
              ),
            );
          }
        }, timeoutMs);
      });
    },
    kill(signal = "SIGKILL") {
      proc.kill(signal);
    },
    exited: proc.exited,
  };
}
