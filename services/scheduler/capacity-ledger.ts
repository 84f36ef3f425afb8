// The scheduler's book of slots: `concurrent` caps the whole mesh, `limit` caps one runner
// entry, each worker offers `slots`. A slot is taken by a lease (one jobs/request in flight) or
// by a job (tracked from acceptance until its worker reports it finished, or until the worker's
// heartbeats stop listing it). Heartbeats are the truth for what runs, so a lost event cannot
// leak a slot. Pure bookkeeping: no I/O, no clocks of its own.
import type { AutoscalerCapacity, Heartbeat } from "../../libs/messages/subjects.ts";

export interface RunnerCapacity {
  key: string;
  name: string;
  /** 0 = unlimited. */
  limit: number;
  executor: string;
  /** The token's short form, GitLab Runner's `runner` label in metrics (never the token). */
  shortToken?: string;
}

export interface WorkerEntry {
  id: string;
  slots: number;
  executors: string[];
  draining: boolean;
  lastSeen: number;
  intervalMs: number;
  /** Jobs the worker's last heartbeat listed: jobKey → runnerKey. */
  running: Map<string, { runnerKey: string; traceOffset: number; traceCrc32?: number; jobId: number }>;
}

export interface Lease {
  id: string;
  runnerKey: string;
  workerId: string;
  pollerId: string;
  expiresAt: number;
}

export interface TrackedJob {
  jobKey: string;
  runnerKey: string;
  /** The worker it was dispatched to, or the worker whose lease reserved the slot. */
  workerId: string | undefined;
  dispatched: boolean;
  since: number;
}

export type LeaseDecision = { granted: true; workerId: string } | { granted: false; reason: string };

export class CapacityLedger {
  readonly workers = new Map<string, WorkerEntry>();
  readonly leases = new Map<string, Lease>();
  readonly jobs = new Map<string, TrackedJob>();
  /** What each autoscaled runner entry's instance group can take, as its autoscaler last said. */
  readonly autoscaled = new Map<string, AutoscalerCapacity>();
  /** When (scheduler's clock) each group's last capacity report arrived. */
  private readonly reportedAt = new Map<string, number>();

  constructor(
    private concurrent: number,
    private runners: Map<string, RunnerCapacity>,
  ) {}

  /** A reloaded config.toml: jobs in flight keep their slots; new leases follow the new caps. */
  configure(concurrent: number, runners: Map<string, RunnerCapacity>): void {
    this.concurrent = concurrent;
    this.runners = runners;
  }

  runner(key: string): RunnerCapacity | undefined {
    return this.runners.get(key);
  }

  /** Every job holding a slot: tracked ones plus any a heartbeat lists that we do not track. */
  private occupied(): Map<string, { runnerKey: string; workerId: string | undefined }> {
    const all = new Map<string, { runnerKey: string; workerId: string | undefined }>();
    for (const w of this.workers.values())
      for (const [jobKey, r] of w.running) all.set(jobKey, { runnerKey: r.runnerKey, workerId: w.id });
    for (const j of this.jobs.values()) all.set(j.jobKey, { runnerKey: j.runnerKey, workerId: j.workerId });
    return all;
  }

  usage(): { total: number; byRunner: Map<string, number>; byWorker: Map<string, number> } {
    const byRunner = new Map<string, number>();
    const byWorker = new Map<string, number>();
    const bump = (m: Map<string, number>, k: string | undefined) => {
      if (k !== undefined) m.set(k, (m.get(k) ?? 0) + 1);
    };
    let total = 0;
    for (const o of this.occupied().values()) {
      total++;
      bump(byRunner, o.runnerKey);
      bump(byWorker, o.workerId);
    }
    for (const l of this.leases.values()) {
      total++;
      bump(byRunner, l.runnerKey);
      bump(byWorker, l.workerId);
    }
    return { total, byRunner, byWorker };
  }

  inFlight(runnerKey: string): number {
    let n = 0;
    for (const l of this.leases.values()) if (l.runnerKey === runnerKey) n++;
    return n;
  }

  /** An autoscaler's capacity report; returns the group's free slots before it. */
  reportAutoscaled(c: AutoscalerCapacity, now: number): number {
    const before = this.autoscaled.get(c.groupKey)?.free ?? 0;
    this.autoscaled.set(c.groupKey, c);
    this.reportedAt.set(c.groupKey, now);
    return before;
  }

  /**
   * May one more jobs/request for this runner entry go out, and on which worker's slot? `now`
   * (scheduler's clock) lets an autoscaler's capacity report expire: a dead autoscaler's last
   * word must not keep promising its instances.
   */
  decideLease(runnerKey: string, maxInFlight: number, now?: number): LeaseDecision {
    const runner = this.runners.get(runnerKey);
    if (!runner)
      return { granted: false, reason: `runner ${runnerKey} is not in the scheduler's config.toml` };
    if (this.inFlight(runnerKey) >= maxInFlight)
      return { granted: false, reason: "request_concurrency reached" };
    const u = this.usage();
    if (u.total >= this.concurrent)
      return { granted: false, reason: `concurrent = ${this.concurrent} reached` };
    if (runner.limit > 0 && (u.byRunner.get(runnerKey) ?? 0) >= runner.limit)
      return { granted: false, reason: `limit = ${runner.limit} of runner "${runner.name}" reached` };
    const scaled = this.autoscaled.get(runnerKey);
    if (scaled) {
      const age = now === undefined ? undefined : now - (this.reportedAt.get(runnerKey) ?? now);
      const refusal = staleReport(scaled, age) ?? autoscalerRefusal(scaled, u.byRunner.get(runnerKey) ?? 0);
      if (refusal) return { granted: false, reason: `runner "${runner.name}": ${refusal}` };
    }
    const worker = this.pickWorker(runner.executor, u.byWorker);
    if (!worker)
      return { granted: false, reason: `no worker with a free slot for executor "${runner.executor}"` };
    return { granted: true, workerId: worker.id };
  }

  /** The live worker with the most free slots that runs `executor`. */
  pickWorker(executor: string, byWorker = this.usage().byWorker, exclude?: string): WorkerEntry | undefined {
    let best: WorkerEntry | undefined;
    let bestFree = 0;
    for (const w of this.workers.values()) {
      if (w.draining || w.id === exclude || !w.executors.includes(executor)) continue;
      const free = w.slots - (byWorker.get(w.id) ?? 0);
      if (free > bestFree) {
        best = w;
        bestFree = free;
      }
    }
    return best;
  }

  /** Runner entries whose executor no live worker offers: their jobs could never run. */
  unservedRunners(): RunnerCapacity[] {
    const offered = new Set<string>();
    for (const w of this.workers.values()) for (const e of w.executors) offered.add(e);
    return [...this.runners.values()].filter((r) => !offered.has(r.executor));
  }

  /**
   * Every one of `concurrent`'s slots is taken by a lease or a job: decideLease refuses any runner
   * until one frees, and each way one frees (a job's end, a lease returned or expired, a lost
   * worker, a reload) publishes capacityChanged.
   */
  meshFull(): boolean {
    return this.usage().total >= this.concurrent;
  }

  freeSlots(): number {
    let slots = 0;
    for (const w of this.workers.values()) if (!w.draining) slots += w.slots;
    return Math.max(0, Math.min(this.concurrent, slots) - this.usage().total);
  }

  /**
   * Records a heartbeat. Returns the jobs we tracked on this worker that it no longer lists
   * although it has had time to (it finished them and the event was lost): their slots free up.
   */
  heartbeat(hb: Heartbeat, now: number): string[] {
    const running = new Map(
      hb.running.map((r) => [
        r.jobKey,
        { runnerKey: r.runnerKey, traceOffset: r.traceOffset, traceCrc32: r.traceCrc32, jobId: r.jobId },
      ]),
    );
    this.workers.set(hb.workerId, {
      id: hb.workerId,
      slots: hb.slots,
      executors: hb.executors,
      draining: hb.draining,
      lastSeen: now,
      intervalMs: hb.intervalMs,
      running,
    });
    const gone: string[] = [];
    for (const j of this.jobs.values()) {
      if (j.workerId !== hb.workerId || !j.dispatched || running.has(j.jobKey)) continue;
      if (now - j.since > 3 * hb.intervalMs) gone.push(j.jobKey);
    }
    for (const k of gone) this.jobs.delete(k);
    return gone;
  }

  /**
   * A worker said a job of its own ended (finished or dropped): its slot is free now, not at the
   * worker's next heartbeat (whose last `running` list still names the job; workers send no
   * heartbeat per job). A heartbeat sent before the event arrives before it (one connection).
   */
  jobEnded(workerId: string, jobKey: string): void {
    this.jobs.delete(jobKey);
    this.workers.get(workerId)?.running.delete(jobKey);
  }

  /** Workers silent for longer than `lostAfterMs`; they are removed from the book. */
  takeLostWorkers(now: number, lostAfterMs: number): WorkerEntry[] {
    const lost: WorkerEntry[] = [];
    for (const w of this.workers.values()) if (now - w.lastSeen > lostAfterMs) lost.push(w);
    for (const w of lost) this.workers.delete(w.id);
    return lost;
  }

  expireLeases(now: number): Lease[] {
    const expired = [...this.leases.values()].filter((l) => l.expiresAt <= now);
    for (const l of expired) this.leases.delete(l.id);
    return expired;
  }
}

/**
 * Taskscaler's reserve rule, seen from the ledger: in preemptive mode a runner entry's jobs and
 * leases that hold no instance yet must fit the group's ready free slots; otherwise they only
 * have to fit max_instances × capacity_per_instance (the autoscaler scales up on acquire).
 */
export function autoscalerRefusal(c: AutoscalerCapacity, taken: number): string | undefined {
  const waiting = Math.max(0, taken - c.acquired);
  if (c.preemptive && waiting >= c.free)
    return `no ready autoscaled instance with a free slot (${c.free} free, ${waiting} promised; preemptive mode)`;
  if (c.maxSlots > 0 && taken >= c.maxSlots)
    return `the instance group is full (max_instances × capacity_per_instance = ${c.maxSlots})`;
  return undefined;
}

/** A capacity report older than the TTL its autoscaler gave it: nobody holds the group now. */
export function staleReport(c: AutoscalerCapacity, ageMs: number | undefined): string | undefined {
  if (c.ttlMs === undefined || ageMs === undefined || ageMs <= c.ttlMs) return undefined;
  return `no active autoscaler for the instance group (its last capacity report is ${Math.round(ageMs / 1000)} s old; reports live ${Math.round(c.ttlMs / 1000)} s)`;
}
