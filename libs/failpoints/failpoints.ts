// Named moments at which a process can be made to die, so fault tests hit exact windows:
// RUNMESH_FAILPOINT=worker.after_claim (comma-separated for several). The process exits with
// code 86 at the first matching point, without cleanup, as a crash would.

export const FAILPOINTS = [
  "poller.after_201",
  "poller.after_handoff",
  "scheduler.before_dispatch",
  "scheduler.after_dispatch",
  "worker.after_claim",
  "worker.after_ack",
  "worker.mid_job",
] as const;
export type Failpoint = (typeof FAILPOINTS)[number];

export const FAILPOINT_EXIT_CODE = 86;

let armed: Set<string> | undefined;

function armedPoints(): Set<string> {
  if (!armed)
    armed = new Set(
      (process.env.RUNMESH_FAILPOINT ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    );
  return armed;
}

/** Dies here if this failpoint is armed. */
export function failpoint(name: Failpoint): void {
  if (!armedPoints().has(name)) return;
  process.stderr.write(`runmesh: failpoint ${name} reached, exiting with ${FAILPOINT_EXIT_CODE}\n`);
  process.exit(FAILPOINT_EXIT_CODE);
}
