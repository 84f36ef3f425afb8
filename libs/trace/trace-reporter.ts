// Streams one job's log to GitLab and reports its end, as GitLab Runner's job trace does
// (reference (c) "Trace (job log) streaming"): an incremental PATCH loop at the server's
// cadence with keep-alive PUTs, then a final-update loop that drains the log and PUTs the
// final state until GitLab has taken it (202 = not yet, 412 = resend everything).
import type { GitLabClient, JobUpdate, PatchTraceResult, UpdateJobResult } from "../gitlab/client.ts";
import { backoffDelayMs, sleepUnlessAborted } from "../gitlab/retry.ts";
import type { RunnerInfo } from "../gitlab/runner-info.ts";
import { createLogger, type Logger } from "../log/logger.ts";

/** What the reporter needs of the client (tests may pass a fake). */
export type TraceClient = Pick<GitLabClient, "patchTrace" | "updateJob">;

/** What the reporter needs of the log (TraceBuffer implements it). */
export interface TraceSource {
  readonly size: number;
  read(offset: number, maxBytes: number): Uint8Array;
  checksum(): string;
  /** End of output: flush anything held back. */
  finish(): void;
}

export interface JobTraceReporterOptions {
  client: TraceClient;
  jobId: number;
  jobToken: string;
  info: RunnerInfo;
  buffer: TraceSource;
  /** `debug_trace=true` on PATCH (CI_DEBUG_TRACE / CI_DEBUG_SERVICES, unless disabled). */
  debugTrace?: boolean;
  /** First interval between patches, and the one the final update restarts from. Default 3000. */
  updateIntervalMs?: number;
  /** Keep-alive PUT when nothing was sent for this long. Default 30000. */
  forceSendIntervalMs?: number;
  /** Failed final-update tries before giving up (`job_status_final_update_retry_limit`). Default 10. */
  finalUpdateRetryLimit?: number;
  /** Backoff between failed final-update tries. Default 1 s → 60 min. */
  finalBackoff?: { baseMs?: number; maxMs?: number };
  /**
   * How many 202 answers to the final PUT to wait through. GitLab stops waiting for its own
   * trace chunks after 5 min (1 → 64 s backoff), so the default 100 is well past that.
   */
  maxAcceptedWaits?: number;
  /** Largest patch. Default 1 MiB. */
  maxPatchBytes?: number;
  logger?: Logger;
}

export interface FinishRequest {
  state: "success" | "failed";
  failureReason?: string;
  exitCode?: number;
}

export interface FinishResult {
  /**
   * succeeded: GitLab took the final state. abort: GitLab refused it for good (403, 404,
   * Job-Status canceled/failed) — nothing more to say. gave_up: retries exhausted.
   * local_abort: abortLocal() was called, no final update was sent.
   */
  outcome: "succeeded" | "abort" | "gave_up" | "local_abort";
  /** Failed tries (not counting 202 waits). */
  failedTries: number;
  sentOffset: number;
  bytesize: number;
  checksum: string;
  /** HTTP status of the last final PUT, if one got an answer. */
  status?: number;
}

const MIB = 1024 * 1024;
/** The interval GitLab Runner caps server-sent intervals at. */
const MAX_INTERVAL_MS = 15 * 60_000;
/** 416s in a row during one drain before the try counts as failed (a server that never agrees). */
const MAX_RANGE_MISMATCHES_PER_DRAIN = 10;

type Phase = "idle" | "running" | "finishing" | "done";

export class JobTraceReporter {
  private readonly o: Required<Omit<JobTraceReporterOptions, "finalBackoff" | "logger">> & {
    finalBackoff: { baseDelayMs: number; maxDelayMs: number };
  };
  private readonly log: Logger;
  private phase: Phase = "idle";
  private offset = 0;
  /** crc32 of the first crcOffset bytes of the buffer (sentProgress catches it up lazily). */
  private crc = 0;
  private crcOffset = 0;
  private intervalMs: number;
  private lastSentAt = 0;
  /** Stops the incremental loop's sleeps (finish, abort). */
  private readonly stopLoop = new AbortController();
  /** Cuts everything short, in-flight requests included (abortLocal). */
  private readonly kill = new AbortController();
  private loop: Promise<void> | undefined;
  private cancelListeners: Array<() => void> = [];
  private abortListeners: Array<() => void> = [];
  private cancelFired = false;
  private abortFired = false;
  private finished: Promise<FinishResult> | undefined;

  constructor(opts: JobTraceReporterOptions) {
    this.o = {
      client: opts.client,
      jobId: opts.jobId,
      jobToken: opts.jobToken,
      info: opts.info,
      buffer: opts.buffer,
      debugTrace: opts.debugTrace ?? false,
      updateIntervalMs: opts.updateIntervalMs ?? 3000,
      forceSendIntervalMs: opts.forceSendIntervalMs ?? 30_000,
      finalUpdateRetryLimit: Math.max(1, opts.finalUpdateRetryLimit ?? 10),
      finalBackoff: {
        baseDelayMs: opts.finalBackoff?.baseMs ?? 1000,
        maxDelayMs: opts.finalBackoff?.maxMs ?? 60 * 60_000,
      },
      maxAcceptedWaits: opts.maxAcceptedWaits ?? 100,
      maxPatchBytes: opts.maxPatchBytes ?? MIB,
    };
    this.log = (opts.logger ?? createLogger({ service: "trace" })).child({ job: opts.jobId });
    this.intervalMs = this.o.updateIntervalMs;
  }

  /** Where GitLab's copy of the log ends, as far as we know. */
  get sentOffset(): number {
    return this.offset;
  }

  /**
   * Where GitLab's copy ends and the CRC-32 of the bytes before that point: what the scheduler needs
   * to append a notice for a lost worker and still claim the whole log's checksum. Computed when
   * asked (each heartbeat), from the buffer, so patching pays nothing for it.
   */
  sentProgress(): { offset: number; crc32: number } {
    if (this.offset < this.crcOffset) {
      this.crc = 0;
      this.crcOffset = 0;
    }
    while (this.crcOffset < this.offset) {
      const chunk = this.o.buffer.read(this.crcOffset, Math.min(this.offset - this.crcOffset, 1 << 20));
      if (chunk.length === 0) break;
      this.crc = Bun.hash.crc32(chunk, this.crc);
      this.crcOffset += chunk.length;
    }
    return { offset: this.crcOffset, crc32: this.crc };
  }

  /** Current interval between patches (server-driven). */
  get updateIntervalMs(): number {
    return this.intervalMs;
  }

  /** Job-Status canceling was seen: graceful cancel. Called once. */
  onCancelRequested(listener: () => void): void {
    if (this.cancelFired) listener();
    else this.cancelListeners.push(listener);
  }

  /** GitLab said the job is over (403, Job-Status canceled/failed): hard abort. Called once. */
  onAbort(listener: () => void): void {
    if (this.abortFired) listener();
    else this.abortListeners.push(listener);
  }

  /** Starts the incremental loop. No-op unless idle. */
  start(): void {
    if (this.phase !== "idle") return;
    this.phase = "running";
    this.lastSentAt = performance.now();
    this.loop = this.runLoop().catch((err) => {
      this.log.error(
        { err: (err as Error)?.message },
        "trace streaming loop crashed; the final update will resend",
      );
    });
  }

  /** Stops streaming without any final update (the job is dropped, e.g. aborted at pickup). */
  abortLocal(): void {
    if (this.phase === "done") return;
    this.phase = "done";
    this.stopLoop.abort();
    this.kill.abort();
    this.finished ??= Promise.resolve(this.result("local_abort", 0));
  }

  /** Stops the loop, then drains the log and PUTs the final state until GitLab has it. */
  finish(req: FinishRequest): Promise<FinishResult> {
    this.finished ??= this.runFinal(req);
    return this.finished;
  }

  private async runLoop(): Promise<void> {
    while (this.phase === "running") {
      if (!(await sleepUnlessAborted(this.intervalMs, this.stopLoop.signal))) return;
      if (this.phase !== "running") return;
      await this.tick();
    }
  }

  private async tick(): Promise<void> {
    const chunk = this.o.buffer.read(this.offset, this.o.maxPatchBytes);
    if (chunk.length > 0) {
      const p = await this.patch(chunk);
      if (this.phase !== "running") return;
      if (p.result === "abort") return this.abortFromServer("trace patch");
      if (p.result !== "succeeded") return; // 416 already resynced the offset; 404/others: next tick
      this.lastSentAt = performance.now();
    }
    if (performance.now() - this.lastSentAt < this.o.forceSendIntervalMs) return;
    const u = await this.update({ state: "running" });
    if (this.phase !== "running") return;
    if (u.result === "abort") return this.abortFromServer("keep-alive update");
    if (u.result === "succeeded") this.lastSentAt = performance.now();
  }

  private async runFinal(req: FinishRequest): Promise<FinishResult> {
    if (this.phase === "done") return this.result("local_abort", 0);
    this.phase = "finishing";
    this.stopLoop.abort();
    // An in-flight patch must land first, or two patches could race over the same offset.
    await this.loop;
    this.o.buffer.finish();
    this.intervalMs = this.o.updateIntervalMs;
    let failed = 0;
    let acceptedWaits = 0;
    let lastStatus: number | undefined;
    const fail = async (why: string): Promise<boolean> => {
      failed++;
      if (failed >= this.o.finalUpdateRetryLimit) {
        this.log.error({ failedTries: failed, why }, "giving up on the job's final update");
        return false;
      }
      const wait = backoffDelayMs(failed, this.o.finalBackoff);
      this.log.warn({ failedTries: failed, why, waitMs: wait }, "final update failed; retrying");
      return sleepUnlessAborted(wait, this.kill.signal);
    };
    while (!this.kill.signal.aborted) {
      if (!(await this.drain())) {
        if (!(await fail("trace not fully sent"))) return this.done("gave_up", failed, lastStatus);
        continue;
      }
      const u = await this.update({
        state: req.state,
        failureReason: req.failureReason,
        exitCode: req.exitCode,
      });
      lastStatus = u.status ?? lastStatus;
      switch (u.result) {
        case "succeeded":
          return this.done("succeeded", failed, lastStatus);
        case "abort":
          return this.done("abort", failed, lastStatus);
        case "accepted":
          // GitLab is still persisting the trace; ask again after its backoff.
          if (++acceptedWaits > this.o.maxAcceptedWaits) return this.done("gave_up", failed, lastStatus);
          if (!(await sleepUnlessAborted(this.intervalMs, this.kill.signal)))
            return this.done("local_abort", failed, lastStatus);
          continue;
        case "trace_validation_failed":
          // GitLab's copy does not match our checksum: resend the whole log from 0.
          this.log.warn(
            { sentOffset: this.offset },
            "GitLab rejected the trace checksum (412); resending the whole log",
          );
          this.offset = 0;
          if (++failed >= this.o.finalUpdateRetryLimit) return this.done("gave_up", failed, lastStatus);
          continue;
        case "failed":
          if (!(await fail(`final update answered ${u.status ?? "nothing"}`)))
            return this.done("gave_up", failed, lastStatus);
      }
    }
    return this.done("local_abort", failed, lastStatus);
  }

  /**
   * Sends everything from `sentOffset` to the end. True when done, or when GitLab will take
   * no more trace (abort, 404: the final PUT still goes out); false when this try failed.
   */
  private async drain(): Promise<boolean> {
    let mismatches = 0;
    while (this.offset < this.o.buffer.size && !this.kill.signal.aborted) {
      const p = await this.patch(this.o.buffer.read(this.offset, this.o.maxPatchBytes));
      switch (p.result) {
        case "succeeded":
          continue;
        case "range_mismatch":
          if (++mismatches > MAX_RANGE_MISMATCHES_PER_DRAIN) return false;
          await sleepUnlessAborted(this.intervalMs, this.kill.signal);
          continue;
        case "abort":
        case "not_found":
          return true;
        case "failed":
          await sleepUnlessAborted(this.intervalMs, this.kill.signal);
          return false;
      }
    }
    return !this.kill.signal.aborted;
  }

  private async patch(chunk: Uint8Array): Promise<PatchTraceResult> {
    const p = await this.o.client.patchTrace(
      this.o.jobId,
      this.o.jobToken,
      this.offset,
      chunk,
      { debugTrace: this.o.debugTrace },
      this.kill.signal,
    );
    if (this.kill.signal.aborted) return p;
    if (p.result === "succeeded" || p.result === "range_mismatch") this.offset = p.sentOffset;
    this.afterAnswer(p);
    return p;
  }

  private async update(fields: Omit<JobUpdate, "info" | "output">): Promise<UpdateJobResult> {
    const u = await this.o.client.updateJob(
      this.o.jobId,
      this.o.jobToken,
      {
        ...fields,
        info: this.o.info,
        output: { checksum: this.o.buffer.checksum(), bytesize: this.o.buffer.size },
      },
      this.kill.signal,
    );
    if (!this.kill.signal.aborted) this.afterAnswer(u);
    return u;
  }

  private afterAnswer(r: { cancelRequested: boolean; updateIntervalS?: number }): void {
    if (r.updateIntervalS !== undefined)
      this.intervalMs = Math.min(r.updateIntervalS * 1000, MAX_INTERVAL_MS);
    if (r.cancelRequested && this.phase === "running" && !this.cancelFired) {
      this.cancelFired = true;
      this.log.info("GitLab asked to cancel the job (Job-Status: canceling)");
      for (const l of this.cancelListeners.splice(0)) l();
    }
  }

  private abortFromServer(what: string): void {
    this.log.warn({ what }, "GitLab says the job is over (abort); stopping trace streaming");
    this.stopLoop.abort();
    if (this.abortFired) return;
    this.abortFired = true;
    for (const l of this.abortListeners.splice(0)) l();
  }

  private done(outcome: FinishResult["outcome"], failedTries: number, status?: number): FinishResult {
    this.phase = "done";
    const r = this.result(outcome, failedTries, status);
    this.log.info(
      { outcome, failedTries, status, sentOffset: r.sentOffset, bytesize: r.bytesize },
      "final update done",
    );
    return r;
  }

  private result(outcome: FinishResult["outcome"], failedTries: number, status?: number): FinishResult {
    return {
      outcome,
      failedTries,
      sentOffset: this.offset,
      bytesize: this.o.buffer.size,
      checksum: this.o.buffer.checksum(),
      status,
    };
  }
}
