// The executor-worker tier: takes jobs the scheduler offers, claims each by a KV create, then
// acknowledges it at GitLab, runs it and reports it. It needs only [mesh] settings to start;
// each job brings its runner entry's settings (never a runner token) and its own job token.
import type { Bus, Headers, KvBucket, Subscription } from "../../libs/bus/bus.ts";
import { KvConflictError } from "../../libs/bus/bus.ts";
import { failpoint } from "../../libs/failpoints/failpoints.ts";
import { type Logger, secrets } from "../../libs/log/logger.ts";
import { discardPayload, fetchPayload } from "../../libs/messages/payload-handover.ts";
import { jobRecord } from "../../libs/messages/record-seal.ts";
import {
  type AcceptedJob,
  dispatchRpc,
  heartbeatOf,
  JOBS_BUCKET,
  type JobRecord,
  jobEventOf,
  jobRecordSchema,
} from "../../libs/messages/subjects.ts";
import { observeStages } from "../../libs/metrics/executor-stages.ts";
import type { MeshMetrics } from "../../libs/metrics/mesh-metrics.ts";
import { noTracing, type Tracing } from "../../libs/telemetry/tracing.ts";
import { cacheUrlsVia } from "./cache-urls.ts";
import { type JobDeps, runJobLifecycle } from "./job-lifecycle.ts";

export interface WorkerOptions extends JobDeps {
  bus: Bus;
  logger: Logger;
  /** A span per job, the child of the scheduler's dispatch span (no-op by default). */
  tracing?: Tracing;
  workerId: string;
  slots: number;
  heartbeatIntervalMs: number;
  /** Set when the process serves metrics (listen_address). */
  metrics?: MeshMetrics;
}

interface Running {
  job: AcceptedJob;
  /** Bytes GitLab has acknowledged and their CRC-32, reported in heartbeats for lost-worker notices. */
  traceProgress: () => { offset: number; crc32: number };
  /** Hard abort with this failure reason (forced shutdown). */
  abort: (reason: string) => void;
  done: Promise<void>;
}

export class ExecutorWorker {
  private readonly running = new Map<string, Running>();
  private readonly subs: Subscription[] = [];
  /**
   * Opened with the first offer, when the scheduler (which creates the bucket) is surely up: a
   * worker's NATS identity may not create streams (one made with extra subjects would capture
   * other workers' dispatches).
   */
  private jobsKv: Promise<KvBucket<typeof jobRecordSchema>> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private draining = false;
  private seq = 0;
  /** Claims in progress count against slots before they show up in `running`. */
  private claiming = 0;
  /** When the last heartbeat went out (readiness). */
  private lastBeatAt: number | undefined;
  private readonly log: Logger;

  constructor(private readonly o: WorkerOptions) {
    this.log = o.logger.child({ component: "worker", worker: o.workerId });
  }

  get runningCount(): number {
    return this.running.size;
  }

  /** Milliseconds since the last heartbeat went out; undefined before the first. */
  heartbeatAgeMs(now = Date.now()): number | undefined {
    return this.lastBeatAt === undefined ? undefined : now - this.lastBeatAt;
  }

  get heartbeatIntervalMs(): number {
    return this.o.heartbeatIntervalMs;
  }

  async start(): Promise<void> {
    this.subs.push(
      await this.o.bus.serve(dispatchRpc(this.o.workerId), (m) => this.offer(m.data, m.headers)),
    );
    await this.beat();
    this.timer = setInterval(() => void this.beat().catch(() => {}), this.o.heartbeatIntervalMs);
    this.log.info({ slots: this.o.slots, executors: this.o.executors.names() }, "worker started");
  }

  private async beat(): Promise<void> {
    await this.o.bus.publish(heartbeatOf(this.o.workerId), {
      workerId: this.o.workerId,
      slots: this.o.slots,
      // Exactly what is registered and configured: the scheduler routes jobs by it.
      executors: this.o.executors.names(),
      running: [...this.running.values()].map((r) => {
        const progress = r.traceProgress();
        return {
          jobKey: r.job.jobKey,
          runnerKey: r.job.runnerKey,
          jobId: r.job.jobId,
          traceOffset: progress.offset,
          traceCrc32: progress.crc32,
        };
      }),
      draining: this.draining,
      intervalMs: this.o.heartbeatIntervalMs,
      seq: ++this.seq,
    });
    this.lastBeatAt = Date.now();
  }

  private jobs(): Promise<KvBucket<typeof jobRecordSchema>> {
    if (!this.jobsKv) {
      const opening = this.o.bus.kv(JOBS_BUCKET, jobRecordSchema);
      opening.catch(() => {
        if (this.jobsKv === opening) this.jobsKv = undefined; // the next offer tries again
      });
      this.jobsKv = opening;
    }
    return this.jobsKv;
  }

  private async offer(
    job: AcceptedJob,
    trace: Headers = {},
  ): Promise<{ accepted: boolean; reason?: string }> {
    if (this.draining) return { accepted: false, reason: "worker is draining" };
    if (this.running.has(job.jobKey)) return { accepted: true };
    if (this.running.size + this.claiming >= this.o.slots) return { accepted: false, reason: "no free slot" };
    const { executor } = job.runner;
    if (!this.o.executors.get(executor))
      return { accepted: false, reason: `this worker has no "${executor}" executor` };
    this.claiming++;
    let revision: number;
    try {
      // The record keeps the job's secrets only inside the scheduler's seal (record-seal.ts).
      const record = jobRecord(job, { state: "claimed", workerId: this.o.workerId, updatedAt: Date.now() });
      revision = await (await this.jobs()).create(job.jobKey, record);
    } catch (e) {
      if (e instanceof KvConflictError) {
        const current = await (await this.jobs()).get(job.jobKey);
        return {
          accepted: false,
          reason: `already claimed by ${current?.value.workerId ?? "another worker"}`,
        };
      }
      throw e;
    } finally {
      this.claiming--;
    }
    failpoint("worker.after_claim");
    this.startJob(job, revision, trace);
    return { accepted: true };
  }

  private startJob(job: AcceptedJob, claimRevision: number, trace: Headers): void {
    const span = (this.o.tracing ?? noTracing).start("runmesh.worker.job", {
      parent: trace,
      attributes: {
        "runmesh.job.id": job.jobId,
        "runmesh.runner": job.runnerName,
        "runmesh.worker": this.o.workerId,
      },
    });
    // Released after the job's last log line (the catch below): the logger then forgets it.
    const token = secrets.hold(job.jobToken);
    const log = this.log.child({ job: job.jobId, runner: job.runnerName });
    let progress = () => ({ offset: 0, crc32: 0 });
    let abort: (reason: string) => void = () => {};
    const entry: Running = {
      job,
      traceProgress: () => progress(),
      abort: (r) => abort(r),
      done: Promise.resolve(),
    };
    this.running.set(job.jobKey, entry);
    let revision = claimRevision;
    let ended = false;
    const claimedAt = Date.now();
    const metrics = this.o.metrics;
    const watch = metrics?.jobStarted(
      { runner: job.runner.short_token, runnerName: job.runnerName, systemId: job.systemId },
      { gitlabUrl: job.gitlabUrl, jobId: job.jobId },
    );
    const advance = async (state: JobRecord["state"], outcome?: string): Promise<boolean> => {
      try {
        revision = await (await this.jobs()).update(
          job.jobKey,
          jobRecord(job, { state, workerId: this.o.workerId, outcome, updatedAt: Date.now() }),
          revision,
        );
        ended = state === "final";
        return true;
      } catch (e) {
        if (e instanceof KvConflictError) {
          log.error({ state }, "job record changed under us (declared lost?); stopping this job");
          return false;
        }
        throw e;
      }
    };
    const publish = (
      event: "acknowledged" | "running" | "finished" | "dropped",
      extra: { state?: string; failureReason?: string } = {},
    ) => {
      if (event === "acknowledged") metrics?.pickup("start", job.runnerName, (Date.now() - claimedAt) / 1000);
      else if (event === "running") watch?.running();
      else if (event === "finished") {
        watch?.finished(extra.state === "success" ? "success" : "failed", extra.failureReason);
        span.setAttributes({
          "runmesh.job.state": extra.state ?? "",
          ...(extra.failureReason ? { "runmesh.job.failure_reason": extra.failureReason } : {}),
        });
      } else watch?.dropped();
      // Only the end of a job frees a slot; the scheduler ignores the rest, so "acknowledged" and
      // "running" stay local (two bus messages and their checks per job fewer, issue 16).
      if (event === "acknowledged" || event === "running") return Promise.resolve();
      return this.o.bus
        .publish(jobEventOf(this.o.workerId), {
          jobKey: job.jobKey,
          jobId: job.jobId,
          runnerKey: job.runnerKey,
          workerId: this.o.workerId,
          event,
          ...extra,
        })
        .catch(() => {});
    };
    // A large payload is read here, once, from the store; the job record keeps only its name.
    entry.done = fetchPayload(this.o.bus, job)
      .then((p) => {
        if (p.ok) watch?.payload(p.payload);
        // With metrics, the executors of this job report its stages (gitlab_runner_jobs, /debug/jobs/list).
        const base = { ...this.o, cacheUrls: this.o.cacheUrls ?? cacheUrlsVia(this.o.bus, this.o.workerId) };
        const deps = watch
          ? { ...base, executors: observeStages(this.o.executors, (st, ex) => watch.stage(st, ex)) }
          : base;
        return runJobLifecycle(p.ok ? { ...job, payload: p.payload, payloadBlob: undefined } : job, deps, {
          log,
          advance,
          publish,
          setProgressSource: (f) => {
            progress = f;
          },
          setAbort: (f) => {
            abort = f;
          },
          payloadError: p.ok ? undefined : p.error,
        });
      })
      .catch((e: Error) => log.error({ err: e.message }, "job lifecycle failed"))
      .then(async () => {
        // Only once the job is final here: a job given up before its ack goes to another worker.
        if (ended)
          await discardPayload(this.o.bus, job).catch((e: Error) =>
            log.warn({ err: e.message }, "stored job payload not deleted; the store drops it after a day"),
          );
      })
      .finally(() => {
        watch?.dropped();
        span.end();
        token.release();
        this.running.delete(job.jobKey);
        // A job recorded final already told the scheduler with its finished/dropped event; one
        // that ended otherwise (a failed lifecycle, a record taken from us) is reported at once
        // rather than at the next periodic heartbeat.
        if (!ended) void this.beat().catch(() => {});
      });
  }

  /** SIGQUIT: take no new jobs, let running ones finish (no time limit, as GitLab Runner). */
  async drain(): Promise<void> {
    this.draining = true;
    await this.beat().catch(() => {});
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  /** SIGTERM/SIGINT: abort running jobs as runner_interrupted and wait up to `timeoutMs`. */
  async abortAll(timeoutMs: number): Promise<boolean> {
    this.draining = true;
    for (const r of this.running.values()) r.abort("runner_interrupted");
    const all = Promise.allSettled([...this.running.values()].map((r) => r.done)).then(() => true);
    return Promise.race([all, Bun.sleep(timeoutMs).then(() => false)]);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const s of this.subs.splice(0)) await s.unsubscribe();
  }
}
