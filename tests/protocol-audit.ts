// The check every test ends with (bunfig.toml preloads this file): each test coordinator started
// during the test recorded no protocol violation, every final PUT's checksum and bytesize match the
// trace GitLab holds, and every failure reason was one the job's features.failure_reasons listed.
// One shared place, so a new end-to-end test gets the audit without asking for it.
import { afterEach, expect } from "bun:test";
import { auditedCoordinators, type Coordinator } from "./coordinator/coordinator.ts";

interface Seen {
  violations: number;
  jobs: Set<number>;
}

const seen = new WeakMap<Coordinator, Seen>();

/** What went wrong since the last audit of this coordinator, one line each; empty when clean. */
export function protocolFindings(coordinator: Coordinator): string[] {
  const mark = seen.get(coordinator) ?? { violations: 0, jobs: new Set<number>() };
  seen.set(coordinator, mark);
  const findings = coordinator.violations.slice(mark.violations).map((v) => `violation: ${v}`);
  mark.violations = coordinator.violations.length;
  for (const job of coordinator.jobs.values()) {
    const final = job.final;
    if (!final || mark.jobs.has(job.id)) continue;
    mark.jobs.add(job.id);
    // GitLab's API makes output.checksum/bytesize optional (without them it skips trace
    // validation): what the runner claims must match; a claim left out is not a mismatch. Workers
    // always claim (the mesh tests assert it); only the scheduler's report for a lost worker leaves
    // them out, when the worker patched after its last heartbeat and the bytes are unknown.
    if (final.checksum !== undefined && !final.checksumMatches)
      findings.push(
        `job ${job.id}: final checksum ${final.checksum} but GitLab holds ${final.expectedChecksum}`,
      );
    if (final.bytesize !== undefined && !final.bytesizeMatches)
      findings.push(
        `job ${job.id}: final bytesize ${final.bytesize} but GitLab holds ${final.expectedBytesize}`,
      );
    if (!final.failureReasonListed)
      findings.push(
        `job ${job.id}: failure_reason ${final.failureReason} is not in features.failure_reasons`,
      );
  }
  return findings;
}

afterEach(() => {
  const findings: string[] = [];
  for (const coordinator of [...auditedCoordinators]) {
    findings.push(...protocolFindings(coordinator));
    if (coordinator.stopped) auditedCoordinators.delete(coordinator);
  }
  expect(findings).toEqual([]);
});
