// The scheduler tier: grants slot leases to pollers, hands each accepted job to one worker,
// keeps undispatched jobs alive at GitLab, and fails the jobs of lost workers quickly.
// It holds job tokens of running jobs (to report lost jobs), never a runner token.
import { randomUUID } from "node:crypto";
import type { Bus, Headers, KvBucket, Subscription, WorkItem } from "../../libs/bus/bus.ts";
import { KvConflictError } from "../../libs/bus/bus.ts";
import { failpoint } from "../../libs/failpoints/failpoints.ts";
import type { GitLabReporter } from "../../libs/gitlab/gitlab-reporter.ts";
import type { Logger } from "../../libs/log/logger.ts";
import { leaseRefusal } from "../../libs/messages/lease-refusal.ts";
import { discardPayload } from "../../libs/messages/payload-handover.ts";
import { openRecord, recordsKey, sealJob } from "../../libs/messages/record-seal.ts";
import {
  ACCEPTED_ACK_WAIT_MS,
  ACCEPTED_JOBS_QUEUE,
  type AcceptedJob,
  acceptedJobs,
  autoscalerCapacity,
  capacityChanged,
  dispatchRpc,
  heartbeats,
  JOBS_BUCKET,
  type JobRecord,
  jobEvents,
  jobRecordSchema,
  leaseAcquire,
  leaseRelease,
  leaseRenew,
  SCHEDULER_CONSUMER,
  workerFromSubject,
} from "../../libs/messages/subjects.ts";
import type { CapacityView, MeshMetrics } from "../../libs/metrics/mesh-metrics.ts";
import { noTracing, type TraceSpan, type Tracing } from "../../libs/telemetry/tracing.ts";
import { CapacityLedger, type RunnerCapacity } from "./capacity-ledger.ts";

/** How often job records are read even when no worker was lost. */
const RECORD_SCAN_INTERVAL_MS = 30_000;
/** How long a finished job's record is kept (it de-duplicates late redeliveries). */
const FINAL_RECORD_RETENTION_MS = 10 * 60_000;

export interface SchedulerOptions {
  bus: Bus;
  logger: Logger;
  /** Dispatch spans, children of the poller's (no-op by default). */
  tracing?: Tracing;
  concurrent: number;
  runners: RunnerCapacity[];
  /** Reports to GitLab on behalf of jobs no worker can (keep-alive, lost worker, no taker). */
  reporter: GitLabReporter;
  leaseTtlMs: number;
  workerLostAfterMs: number;
  dispatchTimeoutMs: number;
  pendingKeepaliveIntervalMs: number;
  /** How often an entry no live worker can serve is logged again, at info level. Default 60 s. */
  unservedReminderMs?: number;
  /** Tick of the housekeeping loop (lease expiry, lost workers, dispatch retries). */
  tickMs?: number;
  now?: () => number;
  /** Set when the process serves metrics (listen_address). */
  metrics?: MeshMetrics;
}

interface Pending {
  job: AcceptedJob;
  item: WorkItem<AcceptedJob> | undefined;
  /** From the hand-out to a worker taking it; a child of the poller's span. */
  span: TraceSpan;
  lastKeepaliveAt: number;
  lastWorkingAt: number;
  dispatching: boolean;
}

export class Scheduler {
  private readonly ledger: CapacityLedger;
  private readonly pending = new Map<string, Pending>();
  private readonly subs: Subscription[] = [];
  private jobsKv!: KvBucket<typeof jobRecordSchema>;
  /** Seals each dispatched job for its record and opens records of lost workers (record-seal.ts). */
  private recordsKey!: Uint8Array;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly now: () => number;
  private startedAt = 0;
  /** Lost-worker checks wait this long after start and after the bus reconnects. */
  private quietUntil = 0;
  private orphanScanDue = true;
  private lastScanAt = 0;
  private readonly log: Logger;
  private tickRunning = false;
  /** Runner entries no live worker can serve (by key), with when they were last logged. */
  private unserved = new Map<string, number>();
  /** The caps as last configured, for /metrics. */
  private caps: { concurrent: number; runners: RunnerCapacity[] };
  private active = false;

  constructor(private readonly o: SchedulerOptions) {
    this.now = o.now ?? Date.now;
    this.ledger = new CapacityLedger(o.concurrent, new Map(o.runners.map((r) => [r.key, r])));
    this.log = o.logger.child({ component: "scheduler" });
    this.caps = { concurrent: o.concurrent, runners: o.runners };
  }

  /** Started and not stopped (readiness). */
  get isActive(): boolean {
    return this.active;
  }

  /** Caps and slot usage as /metrics shows them (gitlab_runner_concurrent, _limit, runmesh_worker_slots). */
  capacityView(systemId = ""): CapacityView {
    const used = this.ledger.usage().byWorker;
    return {
      concurrent: this.caps.concurrent,
      runners: this.caps.runners.map((r) => ({
        ids: { runner: r.shortToken ?? "", runnerName: r.name, systemId },
        limit: r.limit,
      })),
      workers: [...this.ledger.workers.values()].map((w) => ({
        id: w.id,
        slots: w.slots,
        used: used.get(w.id) ?? 0,
      })),
    };
  }

  async start(): Promise<void> {
    const { bus } = this.o;
    this.startedAt = this.now();
    this.quietUntil = this.startedAt + this.o.workerLostAfterMs;
    this.jobsKv = await bus.kv(JOBS_BUCKET, jobRecordSchema);
    this.recordsKey = (await recordsKey(bus, { create: true }))!;
    this.subs.push(
      await bus.subscribe(heartbeats, (m) => {
        if (this.impersonates(m)) return;
        const gone = this.ledger.heartbeat(m.data, this.now());
        if (gone.length) this.capacityFreed(`worker ${m.data.workerId} no longer runs ${gone.join(", ")}`);
      }),
      await bus.serve(leaseAcquire, (m) => this.acquire(m.data)),
      await bus.serve(leaseRenew, (m) => {
        const lease = this.ledger.leases.get(m.data.leaseId);
        if (lease) lease.expiresAt = this.now() + this.o.leaseTtlMs;
        return { ok: lease !== undefined };
      }),
      await bus.serve(leaseRelease, (m) => {
        const ok = this.ledger.leases.delete(m.data.leaseId);
        if (ok) this.capacityFreed("lease returned");
        return { ok };
      }),
      await bus.subscribe(autoscalerCapacity, (m) => {
        const before = this.ledger.reportAutoscaled(m.data, this.now());
        if (m.data.free > before)
          this.capacityFreed(`autoscaled group ${m.data.groupKey}: ${m.data.free} free slots`);
      }),
      await bus.subscribe(jobEvents, (m) => {
        if (this.impersonates(m)) return;
        const e = m.data;
        if (e.event === "finished" || e.event === "dropped") {
          this.ledger.jobEnded(e.workerId, e.jobKey);
          this.capacityFreed(`job ${e.jobId} ${e.event}`);
        }
      }),
    );
    bus.onStatus((s) => {
      // While we cannot hear heartbeats, silence proves nothing: restart the grace period.
      if (s !== "connected") this.quietUntil = Number.POSITIVE_INFINITY;
      else {
        this.quietUntil = this.now() + this.o.workerLostAfterMs;
        this.orphanScanDue = true;
      }
    });
    const queue = await bus.workQueue(ACCEPTED_JOBS_QUEUE, acceptedJobs, { ackWaitMs: ACCEPTED_ACK_WAIT_MS });
    this.subs.push(await queue.consume(SCHEDULER_CONSUMER, (item) => this.onAccepted(item)));
    this.timer = setInterval(() => void this.tick(), this.o.tickMs ?? 250);
    this.active = true;
    this.log.info({ concurrent: this.o.concurrent, runners: this.o.runners.length }, "scheduler started");
  }

  /** A reloaded config.toml: new `concurrent` and runner entries (limit, executor). */
  reconfigure(concurrent: number, runners: RunnerCapacity[]): void {
    this.ledger.configure(concurrent, new Map(runners.map((r) => [r.key, r])));
    this.caps = { concurrent, runners };
    // A reload warns afresh about every entry no worker can serve.
    this.unserved.clear();
    this.capacityFreed("config reloaded");
    this.log.info({ concurrent, runners: runners.length }, "scheduler reloaded its capacity settings");
  }

  async stop(): Promise<void> {
    this.active = false;
    if (this.timer) clearInterval(this.timer);
    for (const s of this.subs.splice(0)) await s.unsubscribe();
  }

  /**
   * A worker speaks for itself only: its subject (which only its NATS identity may publish to)
   * names it, and a message naming another worker is dropped.
   */
  private impersonates(m: { subject: string; data: { workerId: string } }): boolean {
    const sender = workerFromSubject(m.subject);
    if (sender === m.data.workerId) return false;
    this.log.warn(
      { worker: sender, claimed: m.data.workerId, subject: m.subject },
      `worker "${sender}" sent a message naming worker "${m.data.workerId}"; ignored`,
    );
    return true;
  }

  private acquire(req: { runnerKey: string; pollerId: string; maxInFlight: number }) {
    const d = this.ledger.decideLease(req.runnerKey, req.maxInFlight, this.now());
    const runnerName = this.ledger.runner(req.runnerKey)?.name ?? req.runnerKey;
    this.o.metrics?.lease(runnerName, d.granted, d.granted ? "" : leaseRefusal(d.reason));
    if (!d.granted) return { granted: false as const, reason: d.reason, retryAfterMs: 1000 };
    const id = randomUUID();
    this.ledger.leases.set(id, {
      id,
      runnerKey: req.runnerKey,
      workerId: d.workerId,
      pollerId: req.pollerId,
      expiresAt: this.now() + this.o.leaseTtlMs,
    });
    return {
      granted: true as const,
      leaseId: id,
      workerId: d.workerId,
      ttlMs: this.o.leaseTtlMs,
      meshFull: this.ledger.meshFull(),
    };
  }

  private capacityFreed(why: string): void {
    this.log.debug({ why }, "capacity freed");
    void this.o.bus.publish(capacityChanged, { free: this.ledger.freeSlots() }).catch(() => {});
    // Freed slots may let a waiting job go to a worker at once.
    for (const p of this.pending.values()) void this.dispatch(p);
  }

  private async onAccepted(item: WorkItem<AcceptedJob>): Promise<void> {
    const job = item.data;
    const log = this.log.child({ job: job.jobId, runner: job.runnerName });
    // The lease becomes the job's slot: from now on the job itself holds it. Both happen before
    // any await, so no other lease can slip into the slot in between.
    const hadLease = this.ledger.leases.delete(job.leaseId);
    if (hadLease || !this.ledger.jobs.has(job.jobKey)) this.track(job, job.workerId, false);
    const known = this.pending.get(job.jobKey);
    if (known && known.job.acceptedAt >= job.acceptedAt) {
      // Redelivered while we are still placing it.
      known.item = item;
      return;
    }
    if (known) {
      // GitLab handed the job out again (its acknowledgement timed out): the newer hand-out wins.
      await known.item?.ack();
      this.pending.delete(job.jobKey);
    }
    // A first delivery has no record unless GitLab handed the same job out before; then the
    // worker's claim (a KV create) conflicts and the refusal path below settles it, so only a
    // redelivery (a scheduler restart, an ack lost) reads the record first (issue 16: a KV read
    // per job fewer).
    const record = item.deliveryCount > 1 ? await this.jobsKv.get(job.jobKey) : undefined;
    if (record && (await this.placedAlready(job, record, () => item.ack(), log))) return;
    const p: Pending = {
      job,
      item,
      span: this.dispatchSpan(job, item.headers),
      lastKeepaliveAt: job.acceptedAt,
      lastWorkingAt: this.now(),
      dispatching: false,
    };
    this.pending.set(job.jobKey, p);
    await this.dispatch(p);
  }

  private dispatchSpan(job: AcceptedJob, parent: Headers): TraceSpan {
    return (this.o.tracing ?? noTracing).start("runmesh.scheduler.dispatch", {
      parent,
      attributes: { "runmesh.job.id": job.jobId, "runmesh.runner": job.runnerName },
    });
  }

  private track(job: AcceptedJob, workerId: string | undefined, dispatched: boolean): void {
    this.ledger.jobs.set(job.jobKey, {
      jobKey: job.jobKey,
      runnerKey: job.runnerKey,
      workerId,
      dispatched,
      since: this.now(),
    });
  }

  /** Offers a pending job to one worker; the worker claims it by a KV create. */
  private async dispatch(p: Pending): Promise<void> {
    if (p.dispatching) return;
    p.dispatching = true;
    let offerAgain = false;
    const { job } = p;
    try {
      const runner = this.ledger.runner(job.runnerKey);
      const executor = runner?.executor ?? job.runner.executor;
      const usage = this.ledger.usage().byWorker;
      // The slot was reserved on the leased worker; count this job out of its usage when checking.
      const preferred = this.ledger.workers.get(job.workerId);
      const target =
        preferred && !preferred.draining && preferred.executors.includes(executor)
          ? preferred
          : this.ledger.pickWorker(executor, usage);
      if (!target) return;
      failpoint("scheduler.before_dispatch");
      const offeredAt = performance.now();
      const res = await this.o.bus
        .request(
          dispatchRpc(target.id),
          { ...job, sealed: sealJob(this.recordsKey, target.id, job) },
          { timeoutMs: 5000, headers: p.span.headers() },
        )
        .catch((e: Error) => ({ accepted: false, reason: e.message }));
      this.o.metrics?.dispatched(res.accepted, (performance.now() - offeredAt) / 1000);
      if (res.accepted) {
        this.o.metrics?.pickup("dispatch", job.runnerName, Math.max(0, this.now() - job.acceptedAt) / 1000);
        failpoint("scheduler.after_dispatch");
        this.track(job, target.id, true);
        this.pending.delete(job.jobKey);
        p.span.setAttributes({ "runmesh.worker": target.id });
        p.span.end();
        await p.item?.ack();
        this.log.info({ job: job.jobId, worker: target.id }, "job dispatched");
        return;
      }
      const record = await this.jobsKv.get(job.jobKey);
      if (record) {
        const settle = async () => {
          p.span.end();
          await p.item?.ack();
        };
        if (await this.placedAlready(job, record, settle, this.log.child({ job: job.jobId }))) {
          this.pending.delete(job.jobKey);
          return;
        }
        // An earlier hand-out's finished record was in the way and is gone: offer this one again.
        offerAgain = true;
        return;
      }
      this.log.warn(
        { job: job.jobId, worker: target.id, reason: res.reason },
        "worker refused job; will retry",
      );
    } finally {
      p.dispatching = false;
      if (offerAgain) void this.dispatch(p);
    }
  }

  /**
   * Whether a job GitLab handed out is already placed, by the record its key has: claimed or
   * running somewhere (a redelivery, a scheduler restart: never dispatch twice), or this very
   * hand-out finished. A finished record of an earlier hand-out of the same job id is removed
   * instead, and the job is not placed yet. `settle` acknowledges the hand-out once placed.
   */
  private async placedAlready(
    job: AcceptedJob,
    record: { value: JobRecord; revision: number },
    settle: () => Promise<void>,
    log: Logger,
  ): Promise<boolean> {
    if (record.value.state === "final" && record.value.job.acceptedAt < job.acceptedAt) {
      await this.jobsKv.delete(job.jobKey, record.revision).catch(() => {});
      return false;
    }
    if (record.value.state !== "final") this.track(job, record.value.workerId, true);
    else this.ledger.jobs.delete(job.jobKey);
    await settle();
    log.info({ state: record.value.state, worker: record.value.workerId }, "accepted job already claimed");
    return true;
  }

  private async tick(): Promise<void> {
    if (this.tickRunning) return;
    this.tickRunning = true;
    try {
      const now = this.now();
      const expired = this.ledger.expireLeases(now);
      if (expired.length) this.capacityFreed(`${expired.length} lease(s) expired`);
      for (const p of [...this.pending.values()]) await this.keepPendingAlive(p, now);
      if (now >= this.quietUntil && this.o.bus.status() === "connected") {
        await this.checkLostWorkers(now);
        this.checkUnservedRunners(now);
      }
    } catch (e) {
      this.log.error({ err: (e as Error).message }, "scheduler housekeeping failed");
    } finally {
      this.tickRunning = false;
    }
  }

  /**
   * A runner entry whose executor no live worker offers sits idle: warned once (after start, after
   * a reload), then logged at info level while it lasts, and once more when a worker serves it.
   */
  private checkUnservedRunners(now: number): void {
    const unserved = new Map(this.ledger.unservedRunners().map((r) => [r.key, r]));
    for (const [key, r] of unserved) {
      const last = this.unserved.get(key);
      const offered = [...new Set([...this.ledger.workers.values()].flatMap((w) => w.executors))];
      const fields = { runner: r.name, executor: r.executor, offered };
      const msg = `runner "${r.name}": no live worker offers executor "${r.executor}"; its jobs are not requested until one does (start a worker with "${r.executor}" in [mesh] worker_executors)`;
      if (last === undefined) {
        this.log.warn(fields, msg);
        this.unserved.set(key, now);
      } else if (now - last >= (this.o.unservedReminderMs ?? 60_000)) {
        this.log.info(fields, msg);
        this.unserved.set(key, now);
      }
    }
    for (const key of this.unserved.keys()) {
      if (unserved.has(key)) continue;
      this.unserved.delete(key);
      const r = this.ledger.runner(key);
      if (r)
        this.log.info(
          { runner: r.name, executor: r.executor },
          `runner "${r.name}": a worker offers executor "${r.executor}" again`,
        );
    }
  }

  private async keepPendingAlive(p: Pending, now: number): Promise<void> {
    const { job } = p;
    if (now - job.acceptedAt >= this.o.dispatchTimeoutMs) {
      this.pending.delete(job.jobKey);
      this.ledger.jobs.delete(job.jobKey);
      const workers = this.ledger.workers.size;
      const why =
        `runmesh: no executor worker took this job within ${Math.round(this.o.dispatchTimeoutMs / 1000)} s ` +
        `(${workers} worker(s) alive${workers ? ", none with a free slot for its executor" : ""}); ` +
        "start a worker (runmesh worker) or raise [mesh] dispatch_timeout";
      this.log.error({ job: job.jobId, runner: job.runnerName }, why);
      p.span.end(why);
      this.report(this.o.reporter.failJob(job, 0, why, { acknowledgeFirst: true }), job);
      this.discard(job);
      await p.item?.ack();
      this.capacityFreed("undispatched job failed");
      return;
    }
    if (now - p.lastKeepaliveAt >= this.o.pendingKeepaliveIntervalMs) {
      p.lastKeepaliveAt = now;
      this.report(this.o.reporter.keepPending(job), job);
    }
    if (p.item && now - p.lastWorkingAt >= ACCEPTED_ACK_WAIT_MS / 3) {
      p.lastWorkingAt = now;
      await p.item.working();
    }
    await this.dispatch(p);
  }

  private async checkLostWorkers(now: number): Promise<void> {
    const lost = this.ledger.takeLostWorkers(now, this.o.workerLostAfterMs);
    const lostIds = new Set(lost.map((w) => w.id));
    // The job records are read when a worker is lost, once after start or a reconnect (records
    // left by workers we never heard from: a scheduler restart), and every so often as a net.
    const scanDue = this.orphanScanDue || now - this.lastScanAt >= RECORD_SCAN_INTERVAL_MS;
    if (!lost.length && !scanDue) return;
    this.orphanScanDue = false;
    this.lastScanAt = now;
    for (const key of await this.jobsKv.keys()) {
      const rec = await this.jobsKv.get(key);
      if (!rec) continue;
      if (rec.value.state === "final") {
        // Kept a while so a redelivered hand-out is recognised as done, then dropped.
        if (now - rec.value.updatedAt > FINAL_RECORD_RETENTION_MS)
          await this.jobsKv.delete(key, rec.revision).catch(() => {});
        continue;
      }
      const w = rec.value.workerId;
      if (!lostIds.has(w) && this.ledger.workers.has(w)) continue;
      if (!lostIds.has(w) && this.pending.has(key)) continue;
      const seen = lost.find((l) => l.id === w)?.running.get(key);
      const progress = { offset: seen?.traceOffset ?? 0, crc32: seen?.traceCrc32 };
      await this.handleLostJob(key, rec.value, rec.revision, progress);
    }
    if (lost.length) this.capacityFreed(`lost worker(s) ${[...lostIds].join(", ")}`);
  }

  private async handleLostJob(
    key: string,
    rec: JobRecord,
    revision: number,
    /** Where GitLab's copy of the log ends (and its CRC-32) by the worker's last heartbeat. */
    progress: { offset: number; crc32?: number },
  ): Promise<void> {
    const log = this.log.child({ job: rec.job.jobId, runner: rec.job.runnerName, worker: rec.workerId });
    // The record's job is redacted; the whole job (token, payload) is in the seal.
    const job = openRecord(this.recordsKey, key, rec)?.job;
    if (!job) {
      log.error(
        { jobKey: key },
        "the job's record is not sealed with this mesh's records key (KV bucket runmesh-keys); it cannot be failed at GitLab from here",
      );
      await this.jobsKv
        .update(key, { ...rec, state: "final", outcome: "lost", updatedAt: this.now() }, revision)
        .catch(() => {});
      this.ledger.jobs.delete(key);
      return;
    }
    try {
      if (rec.state === "claimed") {
        // Not yet acknowledged at GitLab: another worker may still take it.
        await this.jobsKv.delete(key, revision);
        log.warn("worker lost before acknowledging the job; re-dispatching");
        const p: Pending = {
          job,
          item: undefined,
          span: this.dispatchSpan(job, {}),
          lastKeepaliveAt: this.now(),
          lastWorkingAt: this.now(),
          dispatching: false,
        };
        this.track(job, undefined, false);
        this.pending.set(key, p);
        await this.dispatch(p);
        return;
      }
      await this.jobsKv.update(
        key,
        { ...rec, state: "final", outcome: "lost", updatedAt: this.now() },
        revision,
      );
    } catch (e) {
      if (e instanceof KvConflictError) return; // the worker moved it on after all: it is alive
      throw e;
    }
    this.ledger.jobs.delete(key);
    const msg = `runmesh executor worker "${rec.workerId}" was lost (no heartbeat for ${Math.round(this.o.workerLostAfterMs / 1000)} s) while running this job`;
    log.error({ traceOffset: progress.offset }, msg);
    this.report(this.o.reporter.failJob(job, progress.offset, msg, { traceCrc32: progress.crc32 }), job);
    this.discard(job);
  }

  /** A job ended here, not on a worker: its stored payload (if any) goes too. */
  private discard(job: AcceptedJob): void {
    discardPayload(this.o.bus, job).catch((e: Error) =>
      this.log.warn(
        { job: job.jobId, err: e.message },
        "stored job payload not deleted; the store drops it after a day",
      ),
    );
  }

  /** GitLab may be slow or away; its retries must not hold up the housekeeping loop. */
  private report(p: Promise<void>, job: AcceptedJob): void {
    p.catch((e: Error) => this.log.error({ job: job.jobId, err: e.message }, "report to GitLab failed"));
  }
}
