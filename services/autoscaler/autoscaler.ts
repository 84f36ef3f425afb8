// The autoscaler service for one instance group (one [[runners]] entry with [runners.autoscaler]):
// it waits as a standby until it holds the group's lease, then owns the group: it folds each
// Update into the book, runs the planner, sends the whole delta to the plugin, runs readiness,
// serves acquire/release on every worker's own subject (the asking worker, taken from the subject,
// holds the acquisition; another worker naming it is refused and logged), persists the book (KV
// for the standby, state_storage's file for the all-in-one) and publishes the capacity the
// scheduler follows. All decisions are in planner.ts
// and instance-book.ts; this file only does I/O and timing.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Bus, KvBucket, Subscription } from "../../libs/bus/bus.ts";
import { KvConflictError } from "../../libs/bus/bus.ts";
import type {
  ConnectInfo,
  ConnectorConfig,
  InstanceGroup,
  ProviderState,
} from "../../libs/fleeting/instance-group.ts";
import type { Logger } from "../../libs/log/logger.ts";
import {
  AUTOSCALER_GROUPS_BUCKET,
  AUTOSCALER_LEASES_BUCKET,
  type AutoscalerGroupState,
  autoscalerAcquireRpc,
  autoscalerCapacity,
  autoscalerGroupStateSchema,
  autoscalerLeaseSchema,
  autoscalerReleaseRpc,
  workerFromSubject,
} from "../../libs/messages/subjects.ts";
import type { AutoscalerCounters, MeshMetrics, RunnerIds } from "../../libs/metrics/mesh-metrics.ts";
import { activePolicy } from "./active-policy.ts";
import { GroupLease } from "./group-lease.ts";
import {
  acquireSlot,
  capacityOf,
  emptyBook,
  groupCounts,
  holderCheck,
  housekeeping,
  plannerViews,
  reconcile,
  recordHeartbeat,
  releaseSlot,
  restoreFromStorage,
} from "./instance-book.ts";
import { decideAcquisition, type JobLookup } from "./job-binding.ts";
import { plan, shutdownRemovals } from "./planner.ts";
import type { PlannerSettings } from "./planner-settings.ts";

export interface AutoscalerOptions {
  bus: Bus;
  group: InstanceGroup;
  /** The runner entry's key: names the group on the bus and in KV. */
  groupKey: string;
  /** The runner entry's name, for logs. */
  runnerName: string;
  autoscalerId: string;
  settings: PlannerSettings;
  pluginConfig?: unknown;
  connectorConfig?: ConnectorConfig;
  logger: Logger;
  /** state_storage: the book's file for restarts of the all-in-one. */
  stateFile?: { path: string; keepInstanceWithAcquisitions: boolean };
  /** instance_ready_command: true when the instance may take jobs (default: ready when running). */
  ready?: (info: ConnectInfo) => Promise<boolean>;
  /**
   * The scheduler's job records (job-binding.ts): when set (the tier always sets it), an
   * acquisition must be for a job running on the asking worker in this group. Tests of the group
   * alone, without a scheduler, leave it out.
   */
  jobs?: JobLookup;
  /** The lease lapses this long after the last renewal (renewed every third of it). */
  leaseTtlMs?: number;
  /** fleeting_* / taskscaler metrics of the group, labelled as GitLab Runner labels the runner. */
  metrics?: { registry: Pick<MeshMetrics, "watchInstanceGroup">; ids: RunnerIds };
  now?: () => number;
}

export class Autoscaler {
  private readonly now: () => number;
  private book: AutoscalerGroupState;
  private bookRevision: number | undefined;
  private lease!: GroupLease;
  private books!: KvBucket<typeof autoscalerGroupStateSchema>;
  private served: Subscription[] = [];
  private tickTimer: ReturnType<typeof setTimeout> | undefined;
  private tickDueAt = 0;
  private leaseTimer: ReturnType<typeof setInterval> | undefined;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private providerMaxSize: number | undefined;
  /**
   * Acquisitions asked for and not served yet, by key: until when the demand counts (the planner
   * counts it as reserved) and the worker that asked, the only one whose release withdraws it.
   */
  private readonly waiting = new Map<string, { until: number; worker: string }>();
  private readonly readying = new Set<string>();
  /** For tests and logs: how this autoscaler came to own the group. */
  restoredFrom: "kv" | "state_storage" | "nothing" | undefined;
  private readonly counters: AutoscalerCounters | undefined;
  /** The options' settings, with the policies of the last reload. */
  private settings: PlannerSettings;
  /** The last decision's `required` term (fleeting_taskscaler_desired_instances). */
  private desired = 0;

  constructor(private readonly o: AutoscalerOptions) {
    this.now = o.now ?? Date.now;
    this.settings = o.settings;
    this.book = emptyBook(this.now());
    this.counters = o.metrics?.registry.watchInstanceGroup(o.metrics.ids, () =>
      this.isActive ? this.groupView(o.metrics!.ids) : undefined,
    );
  }

  private groupView(ids: RunnerIds) {
    const s = this.settings;
    return {
      ids,
      ...groupCounts(this.book, s, this.waiting.size),
      maxInstances: s.maxInstances,
      capacityPerInstance: s.capacityPerInstance,
      maxUseCount: s.maxUseCount,
      desiredInstances: this.desired,
    };
  }

  /** The runner entry's key this autoscaler's group is named by. */
  get groupKey(): string {
    return this.o.groupKey;
  }

  get isActive(): boolean {
    return this.lease?.held === true && !this.stopped && this.served.length > 0;
  }

  private get log(): Logger {
    return this.o.logger.child({
      runner: this.o.runnerName,
      group: this.o.groupKey,
      autoscaler: this.o.autoscalerId,
    });
  }

  /** Starts as a standby; becomes active as soon as the group's lease is free. */
  private get leaseTtlMs(): number {
    return this.o.leaseTtlMs ?? 15_000;
  }

  async start(): Promise<void> {
    const ttl = this.leaseTtlMs;
    const leases = await this.o.bus.kv(AUTOSCALER_LEASES_BUCKET, autoscalerLeaseSchema);
    this.books = await this.o.bus.kv(AUTOSCALER_GROUPS_BUCKET, autoscalerGroupStateSchema);
    this.lease = new GroupLease(leases, this.o.groupKey, this.o.autoscalerId, ttl, this.now);
    const beat = () => this.serial(() => this.leaseBeat());
    this.leaseTimer = setInterval(beat, Math.max(50, Math.floor(ttl / 3)));
    await beat();
  }

  private async leaseBeat(): Promise<void> {
    if (this.stopped) return;
    const wasActive = this.served.length > 0;
    let holds = false;
    try {
      holds = await this.lease.tryAcquire();
    } catch (err) {
      this.log.warn({ err: String(err) }, "autoscaler lease: the bus failed; trying again");
    }
    if (holds && !wasActive) await this.becomeActive();
    else if (!holds && wasActive) await this.stepDown("another autoscaler holds the group's lease");
    // The capacity report expires at the scheduler after a lease TTL: say it again while active.
    else if (holds) await this.publishCapacity().catch(() => undefined);
    // Ticks pause while a renewal is overdue (the lease may be someone else's by now): resume them.
    if (holds && wasActive && Date.now() > this.tickDueAt + 1_000) this.schedule(0);
  }

  private async becomeActive(): Promise<void> {
    const info = await this.o.group.init(this.o.pluginConfig ?? {}, {
      connectorConfig: this.o.connectorConfig ?? {},
    });
    this.providerMaxSize = info.maxSize;
    const stored = await this.books.get(this.o.groupKey);
    const toDelete: string[] = [];
    if (stored) {
      // A standby taking over: the jobs still run on their workers, so acquisitions stand.
      this.book = stored.value;
      this.bookRevision = stored.revision;
      this.restoredFrom = "kv";
    } else if (this.o.stateFile && (await this.readStateFile())) {
      const restored = restoreFromStorage(
        this.book,
        this.o.stateFile.keepInstanceWithAcquisitions,
        this.now(),
      );
      this.book = restored.book;
      toDelete.push(...restored.toDelete);
      this.restoredFrom = "state_storage";
    } else this.restoredFrom = "nothing";
    this.log.info(
      { instances: this.book.instances.length, restored_from: this.restoredFrom, provider: info.id },
      "autoscaler active for the instance group",
    );
    if (toDelete.length > 0) await this.decrease(toDelete, "held acquisitions at restart");
    // Every worker's own subject: the asking worker is the subject's, never the message's.
    this.served = [
      await this.o.bus.serve(autoscalerAcquireRpc(this.o.groupKey, "*"), async (m) => {
        const worker = workerFromSubject(m.subject);
        // Read before the book's queue: other acquisitions need not wait for this KV read.
        const notTheirs = await this.jobRefusal(m.data.key, worker);
        return notTheirs ?? this.serial(() => this.acquire(m.data.key, m.data.waitMs, worker));
      }),
      await this.o.bus.serve(autoscalerReleaseRpc(this.o.groupKey, "*"), (m) =>
        this.serial(() => this.release(m.data.key, workerFromSubject(m.subject))),
      ),
    ];
    await this.tick(true);
  }

  private async stepDown(why: string): Promise<void> {
    this.log.warn({ why }, "autoscaler no longer active for the instance group");
    clearTimeout(this.tickTimer);
    await Promise.all(this.served.map((s) => s.unsubscribe()));
    this.served = [];
  }

  /** Runs `op` after every earlier one: the book has one writer at a time. */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.chain.then(op, op);
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private schedule(ms: number): void {
    clearTimeout(this.tickTimer);
    if (this.stopped || !this.lease.held) return;
    this.tickDueAt = Date.now() + ms;
    this.tickTimer = setTimeout(() => this.serial(() => this.tick(false)).catch(() => undefined), ms);
  }

  /** Brings the next tick forward to within `ms`, never later than it already is. */
  private scheduleWithin(ms: number): void {
    if (this.tickDueAt > Date.now() + ms) this.schedule(ms);
  }

  private async tick(first: boolean): Promise<void> {
    if (this.stopped || !this.lease.held) return;
    const now = this.now();
    try {
      const reported = new Map<string, ProviderState>();
      await this.o.group.update((id, state) => reported.set(id, state));
      const r = reconcile(this.book, reported, now);
      this.book = r.book;
      for (const v of r.vanished) {
        if (v.acquisitions.length > 0)
          this.log.error({ instance: v.id, acquisitions: v.acquisitions }, "instance unexpectedly removed");
      }
      // Without state the first Update lists only instances we cannot vouch for (fleeting: "preexisted").
      if (r.strangers.length > 0) await this.decrease(r.strangers, first ? "preexisted" : "not ours");
      for (const id of r.running) this.runReadiness(id);
      const h = housekeeping(this.book, now, this.settings);
      this.book = h.book;
      if (h.forgotPending > 0)
        this.log.warn(
          { forgotten: h.forgotPending },
          "instances asked for never appeared in Update; no longer counted as coming",
        );
      if (h.retryDelete.length > 0)
        await this.decrease(h.retryDelete, "still listed after deletion_retry_interval");

      for (const [key, w] of this.waiting) if (w.until <= now) this.waiting.delete(key);
      const p = plan(
        {
          instances: plannerViews(this.book),
          pending: this.book.pending,
          reserved: this.waiting.size,
          providerMaxSize: this.providerMaxSize,
          memo: this.book.memo,
        },
        this.settings,
        now,
      );
      this.book = { ...this.book, memo: p.memo };
      this.desired = p.terms.required;
      if (p.increase > 0 || p.remove.length > 0 || p.held) {
        this.log.info(
          { ...p.terms, increase: p.increase, remove: p.remove, reasons: p.reasons, held: p.held },
          "required scaling change",
        );
      }
      if (p.remove.length > 0) {
        await this.decrease(p.remove, "planner");
        this.counters?.scaled("down", p.remove.length);
      }
      if (p.increase > 0) {
        const res = await this.o.group.increase(p.increase);
        this.counters?.scaled("up", res.succeeded);
        this.book = { ...this.book, pending: this.book.pending + res.succeeded, pendingSinceMs: now };
        if (res.error)
          this.log.warn(
            { asked: p.increase, succeeded: res.succeeded, err: res.error.message },
            "increase partly failed",
          );
      }
      await this.persist();
      await this.publishCapacity();
      this.schedule(p.nextUpdateMs);
    } catch (err) {
      this.log.error({ err: String(err) }, "autoscaler tick failed; retrying");
      this.schedule(this.settings.updateIntervalWhenExpectingMs);
    }
  }

  private async decrease(ids: string[], why: string): Promise<void> {
    const res = await this.o.group.decrease(ids);
    const done = new Set(res.succeeded);
    this.book = {
      ...this.book,
      instances: this.book.instances.map((i) =>
        done.has(i.id) ? { ...i, state: "deleting" as const, deletingSinceMs: this.now() } : i,
      ),
    };
    this.log.info({ instances: ids, why, failed: res.error?.message }, "removing instances");
  }

  private runReadiness(id: string): void {
    if (this.readying.has(id)) return;
    this.readying.add(id);
    const check = async () => {
      const info = await this.o.group.connectInfo(id);
      return this.o.ready ? this.o.ready(info) : true;
    };
    check()
      .catch((err) => {
        this.log.warn({ instance: id, err: String(err) }, "instance readiness failed");
        return false;
      })
      .then((ok) =>
        this.serial(async () => {
          this.readying.delete(id);
          const now = this.now();
          this.book = {
            ...this.book,
            instances: this.book.instances.map((i) =>
              i.id === id && i.state === "creating"
                ? { ...i, state: ok ? "ready" : "unhealthy", idleSinceMs: now }
                : i,
            ),
          };
          await this.persist();
          await this.publishCapacity();
          // A newly ready instance may serve the acquisitions waiting for it, or must be replaced.
          this.schedule(0);
        }),
      )
      .catch(() => undefined);
  }

  private async acquire(key: string, waitMs: number, worker: string) {
    if (!this.isActive)
      return { acquired: false as const, reason: "this autoscaler is not active", retryAfterMs: 1_000 };
    const refusal = this.refusal("acquire", key, worker);
    if (refusal) return { acquired: false as const, reason: refusal, retryAfterMs: 0, refused: true };
    const got = await this.healthySlot(key, worker);
    this.counters?.task(got ? "acquire" : "acquire_no_capacity");
    if (!got) {
      const wasNew = !this.waiting.has(key);
      // A job waits for an instance at most instance_acquire_timeout, whatever it asks for.
      this.waiting.set(key, {
        until: this.now() + Math.min(waitMs, this.settings.instanceAcquireTimeoutMs),
        worker,
      });
      if (wasNew) this.schedule(0);
      return {
        acquired: false as const,
        reason: `no ready instance with a free slot in the group of runner "${this.o.runnerName}"`,
        retryAfterMs: this.settings.updateIntervalWhenExpectingMs,
      };
    }
    this.waiting.delete(key);
    this.book = got.book;
    await this.persist();
    await this.publishCapacity();
    // The warm pool shrank: top it up soon rather than at the next update_interval.
    this.scheduleWithin(this.settings.updateIntervalWhenExpectingMs);
    const info = await this.o.group.connectInfo(got.instanceId);
    return { acquired: true as const, instanceId: got.instanceId, connectInfo: info };
  }

  /**
   * A slot for `key` on an instance whose heartbeat answers: an instance that fails it is skipped
   * this time, and replaced once failure_threshold heartbeats in a row have failed.
   */
  private async healthySlot(key: string, worker: string) {
    if (this.book.instances.some((i) => i.acquisitions.includes(key)))
      return acquireSlot(this.book, key, this.settings, undefined, worker);
    const failed = new Set<string>();
    for (;;) {
      const got = acquireSlot(this.book, key, this.settings, failed, worker);
      if (!got) return undefined;
      const err = await this.o.group.heartbeat(got.instanceId).then(
        () => undefined,
        (e: unknown) => e,
      );
      const h = recordHeartbeat(this.book, got.instanceId, err === undefined, this.settings.failureThreshold);
      this.book = h.book;
      if (err === undefined) return acquireSlot(this.book, key, this.settings, failed, worker);
      failed.add(got.instanceId);
      this.counters?.task("heartbeat_failure");
      this.log.warn(
        {
          instance: got.instanceId,
          failures: h.failures,
          failure_threshold: this.settings.failureThreshold,
          err: String(err),
        },
        h.turnedUnhealthy ? "instance heartbeat failed too often; replacing it" : "instance heartbeat failed",
      );
      if (h.turnedUnhealthy) this.schedule(0);
    }
  }

  /** A refusal when the job is not one the scheduler records as running on `worker` in this group. */
  private async jobRefusal(key: string, worker: string) {
    if (!this.o.jobs) return undefined;
    const found = await this.o.jobs(key);
    const v = decideAcquisition({ key, asker: worker, groupKey: this.o.groupKey, found });
    if (v.ok) return undefined;
    // A job a moment before its record says running asks again; anything else is worth a warning.
    this.log[v.final ? "warn" : "debug"](
      { worker, job: key, reason: v.reason },
      "acquire refused: not a job running on the asking worker",
    );
    return {
      acquired: false as const,
      reason: v.reason,
      retryAfterMs: this.settings.updateIntervalWhenExpectingMs,
      ...(v.final ? { refused: true } : {}),
    };
  }

  /**
   * Why worker `worker` may not acquire or release `key` (another worker holds it), logged with the
   * worker, the holder, the instance and the job; undefined when it may.
   */
  private refusal(verb: "acquire" | "release", key: string, worker: string): string | undefined {
    const c = holderCheck(this.book, key, worker);
    if (c.ok) return undefined;
    this.log.warn(
      { worker, holder: c.holder, instance: c.instanceId, job: key },
      `${verb} refused: another worker holds the acquisition`,
    );
    return `worker ${JSON.stringify(worker)} may not ${verb} acquisition ${JSON.stringify(key)} in the group of runner "${this.o.runnerName}": worker ${JSON.stringify(c.holder)} holds it`;
  }

  private async release(key: string, worker: string) {
    const refusal = this.refusal("release", key, worker);
    if (refusal) return { released: false, reason: refusal };
    if (this.waiting.get(key)?.worker === worker) this.waiting.delete(key);
    const r = releaseSlot(this.book, key, this.now());
    this.book = r.book;
    if (r.released) {
      this.counters?.task("release");
      await this.persist();
      await this.publishCapacity();
      // A spent instance (max_use_count) goes at once.
      if (this.settings.maxUseCount > 0) this.schedule(0);
    }
    return { released: r.released };
  }

  private async persist(): Promise<void> {
    this.book = { ...this.book, savedAtMs: this.now() };
    try {
      this.bookRevision =
        this.bookRevision === undefined
          ? await this.books.create(this.o.groupKey, this.book)
          : await this.books.update(this.o.groupKey, this.book, this.bookRevision);
    } catch (err) {
      if (!(err instanceof KvConflictError)) throw err;
      // Someone else wrote the group's book: it is theirs now.
      await this.stepDown("the group's book was written by another autoscaler");
      this.lease.release().catch(() => undefined);
      throw err;
    }
    if (this.o.stateFile) {
      const path = this.o.stateFile.path;
      await mkdir(dirname(path), { recursive: true });
      await writeFile(`${path}.tmp`, JSON.stringify(this.book));
      await rename(`${path}.tmp`, path);
    }
  }

  private async readStateFile(): Promise<boolean> {
    const path = this.o.stateFile!.path;
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch {
      return false;
    }
    const parsed = autoscalerGroupStateSchema.safeParse(JSON.parse(text));
    if (!parsed.success) {
      this.log.warn(
        { path },
        "state_storage: the file does not hold an instance group's state; starting empty",
      );
      return false;
    }
    this.book = parsed.data;
    return true;
  }

  private async publishCapacity(): Promise<void> {
    const s = this.settings;
    const c = capacityOf(this.book, s);
    await this.o.bus.publish(autoscalerCapacity, {
      groupKey: this.o.groupKey,
      autoscalerId: this.o.autoscalerId,
      ...c,
      preemptive: activePolicy(s.policies, this.now()).policy.preemptive,
      maxSlots: s.maxInstances * s.capacityPerInstance,
      ttlMs: this.leaseTtlMs,
    });
  }

  /**
   * A reloaded config.toml: only [[runners.autoscaler.policy]] applies at once (GitLab Runner
   * 17.5+); the other autoscaler settings keep their start-up values, as GitLab Runner's do.
   */
  reloadPolicies(policies: PlannerSettings["policies"]): void {
    this.settings = { ...this.settings, policies };
    this.log.info({ policies: policies.length }, "autoscaler policies reloaded");
    this.schedule(0);
  }

  /** The book as it stands (for tests and /debug). */
  snapshot(): AutoscalerGroupState {
    return this.book;
  }

  /** Runs one tick now (tests with an injected clock). */
  tickNow(): Promise<void> {
    return this.serial(() => this.tick(false));
  }

  /** A clean stop: delete_instances_on_shutdown, persist, Shutdown, hand the lease over. */
  async stop(): Promise<void> {
    await this.serial(async () => {
      if (this.lease?.held) {
        const ids = shutdownRemovals(plannerViews(this.book), this.settings);
        if (ids.length > 0) await this.deleteOnShutdown(ids);
        await this.persist().catch(() => undefined);
        await this.o.group.shutdown();
      }
      this.halt();
      await Promise.all(this.served.map((s) => s.unsubscribe()));
      await this.lease?.release();
    });
  }

  /**
   * delete_instances_on_shutdown as taskscaler does it: Decrease, then every
   * shutdown_deletion_interval, up to shutdown_deletion_retries times, Decrease again whatever the
   * plugin still lists.
   */
  private async deleteOnShutdown(ids: string[]): Promise<void> {
    const s = this.settings;
    await this.decrease(ids, "delete_instances_on_shutdown");
    let left = ids;
    for (let retry = 1; retry <= s.shutdownDeletionRetries && left.length > 0; retry++) {
      await new Promise((r) => setTimeout(r, s.shutdownDeletionIntervalMs));
      const listed = new Set<string>();
      await this.o.group.update((id, state) => {
        if (state !== "deleted") listed.add(id);
      });
      left = left.filter((id) => listed.has(id));
      if (left.length > 0) await this.decrease(left, `delete_instances_on_shutdown, retry ${retry}`);
    }
    if (left.length > 0)
      this.log.warn(
        { instances: left, retries: s.shutdownDeletionRetries },
        "instances still listed at the last shutdown deletion retry; check them in the cloud",
      );
  }

  /** Stops without a word to anyone: what a crash looks like to the standby (tests). */
  abandon(): void {
    this.halt();
  }

  private halt(): void {
    this.stopped = true;
    clearTimeout(this.tickTimer);
    clearInterval(this.leaseTimer);
  }
}
