// How many times a job really ran, counted where a double run would show: a script line appends to
// a file outside the build directory (`echo run >> <dir>/runs`), and GitLab's own records (PUT
// state=running calls). The acknowledgement counter alone cannot tell: it never exceeds 1.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { CoordinatorJob } from "../coordinator/coordinator.ts";

/** Lines the job's `echo run >> <dir>/runs` appended: one per execution of its script. */
export function executionsOf(dir: string): number {
  const file = join(dir, "runs");
  if (!existsSync(file)) return 0;
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l === "run").length;
}

/** PUT state=running calls GitLab answered, whatever the status. */
export function runningPuts(job: CoordinatorJob): number {
  return job.puts.filter((p) => p.state === "running").length;
}
