// Sweeps plugin processes a dead host left behind. go-plugin plugins ignore SIGINT, so a runner
// killed hard leaves them running with PPID 1, still scaling the cloud under later jobs (runner
// issue 38716, autoscaling.md §1.2.2). Each plugin we start carries RUNMESH_FLEETING_HOST =
// "<host pid>:<host start time>"; on start, a host kills the process group of every plugin whose
// host is no longer that process. The decision is pure; only the /proc scan and kill do I/O.
import { readdirSync, readFileSync } from "node:fs";
import { HOST_MARKER_ENV } from "./plugin-constants.ts";

/** A process's start time in clock ticks since boot (/proc/<pid>/stat field 22), or undefined. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count from the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

export function hostMarker(pid: number): string {
  return `${pid}:${processStartTime(pid) ?? "0"}`;
}

/** Plugins whose marked host is gone (or its pid reused by another process). */
export function orphansOf(
  plugins: readonly { pid: number; marker: string }[],
  startTimeOf: (pid: number) => string | undefined,
): number[] {
  return plugins
    .filter(({ marker }) => {
      const [pid, start] = marker.split(":");
      return startTimeOf(Number(pid)) !== start;
    })
    .map((p) => p.pid);
}

/** Every process (readable to us) carrying the host marker, with it. */
export function markedProcesses(): { pid: number; marker: string }[] {
  const out: { pid: number; marker: string }[] = [];
  const prefix = `${HOST_MARKER_ENV}=`;
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, "latin1");
    } catch {
      continue;
    }
    const entry = environ.split("\0").find((e) => e.startsWith(prefix));
    if (entry) out.push({ pid, marker: entry.slice(prefix.length) });
  }
  return out;
}

/** Kills each orphaned plugin's process group; returns their pids. */
export function sweepOrphanedPlugins(): number[] {
  const orphans = orphansOf(markedProcesses(), processStartTime);
  for (const pid of orphans) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
  }
  return orphans;
}
