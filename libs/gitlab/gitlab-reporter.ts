// What the scheduler says to GitLab about jobs no worker can speak for: keep-alive of a job
// still waiting for a worker (two-phase commit), and the final failure of a job whose worker is
// gone or never came. Workers report their own jobs through the trace reporter.

import type { Logger } from "../log/logger.ts";
import { secrets } from "../log/logger.ts";
import type { AcceptedJob } from "../messages/subjects.ts";
import type { GitLabClient } from "./client.ts";
import type { RunnerInfo } from "./runner-info.ts";

export type ClientFor = (job: Pick<AcceptedJob, "gitlabUrl" | "tls" | "runnerName">) => GitLabClient;

export class GitLabReporter {
  constructor(
    private readonly clientFor: ClientFor,
    private readonly info: (job: AcceptedJob) => RunnerInfo,
    private readonly logger: Logger,
  ) {}

  /** PUT state=pending: tells GitLab we still own the job while it waits for a worker. */
  async keepPending(job: AcceptedJob): Promise<void> {
    using _jobToken = secrets.hold(job.jobToken);
    const r = await this.clientFor(job).updateJob(job.jobId, job.jobToken, {
      info: this.info(job),
      state: "pending",
    });
    if (r.result !== "succeeded")
      this.logger.warn(
        { job: job.jobId, result: r.result, status: r.status },
        "pending keep-alive not accepted",
      );
  }

  /**
   * Appends an ERROR line at `traceOffset` (where GitLab's copy of the log ends, as far as we
   * know; a 416 tells us the real end) and fails the job as runner_system_failure.
   */
  async failJob(
    job: AcceptedJob,
    traceOffset: number,
    message: string,
    /** traceCrc32: CRC-32 of the traceOffset bytes GitLab holds (a lost worker's last heartbeat). */
    opts: { acknowledgeFirst?: boolean; traceCrc32?: number } = {},
  ): Promise<void> {
    using _jobToken = secrets.hold(job.jobToken);
    const client = this.clientFor(job);
    if (opts.acknowledgeFirst) {
      // Under two-phase commit GitLab takes `failed` only for an acknowledged job (400 before).
      const ack = await client.updateJob(job.jobId, job.jobToken, { info: this.info(job), state: "running" });
      if (ack.result === "abort") return;
    }
    const line = new TextEncoder().encode(
      `\n\x1b[31;1mERROR: Job failed (system failure): ${message}\x1b[0;m\n`,
    );
    let offset = traceOffset;
    // The final PUT claims the whole log's checksum, as every final update of a worker does, when
    // we know every byte before our line: none (offset 0), or the CRC-32 of what the worker had
    // sent. A 416 means the worker got further than its last heartbeat: then we cannot know, and
    // claim nothing (GitLab then skips its trace validation) rather than a wrong checksum.
    let known: number | undefined = traceOffset === 0 ? 0 : opts.traceCrc32;
    let landed = false;
    for (let attempt = 0; attempt < 3; attempt++) {
      const p = await client.patchTrace(job.jobId, job.jobToken, offset, line, { debugTrace: false });
      landed = p.result === "succeeded";
      if (p.result !== "range_mismatch") break;
      offset = p.sentOffset;
      known = undefined;
    }
    const output =
      landed && known !== undefined
        ? {
            checksum: `crc32:${Bun.hash.crc32(line, known).toString(16).padStart(8, "0")}`,
            bytesize: offset + line.byteLength,
          }
        : undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = await client.updateJob(job.jobId, job.jobToken, {
        info: this.info(job),
        state: "failed",
        failureReason: "runner_system_failure",
        ...(output ? { output } : {}),
      });
      if (r.result === "succeeded" || r.result === "abort") {
        this.logger.info(
          { job: job.jobId, result: r.result },
          "job failed at GitLab on behalf of its worker",
        );
        return;
      }
      await Bun.sleep(Math.min(1000 * 2 ** attempt, 8000));
    }
    this.logger.error({ job: job.jobId }, "could not report the job's failure to GitLab");
  }
}
