// The poller tier: asks GitLab for jobs for each [[runners]] entry, only while the scheduler
// grants a slot lease, and hands every accepted job over durably. It is the only tier that holds
// runner tokens; it parses only id, token and timeout of a job and forwards the rest unread.
import type { z } from "zod";
import type { Bus, Headers, KvBucket } from "../../libs/bus/bus.ts";
import {
  BlobStoreFullError,
  BusNoRespondersError,
  BusTimeoutError,
  KvConflictError,
} from "../../libs/bus/bus.ts";
import { failpoint } from "../../libs/failpoints/failpoints.ts";
import type { GitLabClient } from "../../libs/gitlab/client.ts";
import { GitLabReporter } from "../../libs/gitlab/gitlab-reporter.ts";
import type { RunnerInfo } from "../../libs/gitlab/runner-info.ts";
import type { Logger } from "../../libs/log/logger.ts";
import { secrets } from "../../libs/log/logger.ts";
import { jobKeyOf } from "../../libs/messages/job-key.ts";
import { leaseRefusal } from "../../libs/messages/lease-refusal.ts";
import { discardPayload, formatBytes, stowPayload } from "../../libs/messages/payload-handover.ts";
import {
  ACCEPTED_ACK_WAIT_MS,
  ACCEPTED_JOBS_QUEUE,
  type AcceptedJob,
  acceptedJobs,
  capacityChanged,
  leaseAcquire,
  leaseRelease,
  leaseRenew,
  RUNNERS_BUCKET,
  type RunnerState,
  runnerStateSchema,
  type WorkerRunnerSettings,
} from "../../libs/messages/subjects.ts";
import type { MeshMetrics, RunnerIds } from "../../libs/metrics/mesh-metrics.ts";
import { noTracing, type Tracing } from "../../libs/telemetry/tracing.ts";
import {
  nextRequestAt,
  queueMoved,
  shortcutsCounted,
  staggerOffsetMs,
  unansweredLeaseWaitMs,
} from "./request-schedule.ts";
import {
  applyOutcome,
  type HealthSettings,
  healthVerdict,
  initialRunnerState,
  maxInFlight,
  type RequestOutcome,
  stateWorthSaving,
} from "./runner-health.ts";

/**
 * An entry's runner state as one poller knows it: `state` with the changes not worth a write yet
 * (stateWorthSaving), `stored` as the bus holds it at `revision`, read or written `at`.
 */
interface KnownState {
  state: RunnerState;
  stored: RunnerState;
  revision: number | undefined;
  at: number;
}

type LeaseAnswer = z.output<typeof leaseAcquire.response>;
type GrantedLease = Extract<LeaseAnswer, { granted: true }>;

/** A lane that skipped asking for a lease on a full mesh asks anyway after this long. */
const MESH_FULL_RECHECK_MS = 1000;

/** A failed handoff of an accepted job is retried this often, HANDOFF_RETRY_MS × attempt apart. */
const HANDOFF_ATTEMPTS = 5;
const HANDOFF_RETRY_MS = 1000;

/** One [[runners]] entry as the poller needs it. */
export interface PollTarget {
  key: string;
  name: string;
  url: string;
  token: string;
  health: HealthSettings;
  strictCheckInterval: boolean;
  info: RunnerInfo;
  /** The entry's settings without secrets, sent to the worker with each job. */
  settings: WorkerRunnerSettings;
  tls: AcceptedJob["tls"];
  client: GitLabClient;
}

export interface PollerOptions {
  bus: Bus;
  logger: Logger;
  pollerId: string;
  systemId: string;
  checkIntervalMs: number;
  targets: PollTarget[];
  now?: () => number;
  /** How long a lane that skipped asking on a full mesh waits before it asks anyway (1 s). */
  meshFullRecheckMs?: number;
  /** Set when the process serves metrics (listen_address). */
  metrics?: MeshMetrics;
  /** Spans of accepted jobs; their context rides the hand-off's headers (no-op by default). */
  tracing?: Tracing;
}

/** A capacity wake-up a lane received; passOn() hands it to the next waiting lane (false: none left). */
interface CapacityWake {
  passOn(): boolean;
}

export class Poller {
  private stopping = false;
  private readonly abort = new AbortController();
  private readonly lanes: Promise<void>[] = [];
  private targets: PollTarget[];
  private checkIntervalMs: number;
  private generation = 0;
  private handoff: (job: AcceptedJob, headers: Headers) => Promise<{ duplicate: boolean }> = async () => {
    throw new Error("poller not started");
  };
  private sleepers = new Set<() => void>();
  private runnersKv!: KvBucket<typeof runnerStateSchema>;
  /** Lanes refused a lease, sleeping until capacity frees up: in the order they started waiting. */
  private readonly capacityWaiters = new Set<(wake?: CapacityWake) => void>();
  /** Capacity messages that found fewer waiting lanes than free slots: a lane compares it across its lease request (lost wake-ups). */
  private capacityNews = 0;
  /**
   * The last lease granted took the mesh's last slot (its `meshFull`) and no capacityChanged has
   * come since: a lane waits for that message rather than ask for a lease the scheduler would
   * refuse (a refused request and its answer per job on a busy mesh, issue 16).
   */
  private meshFull = false;
  /** capacityChanged messages heard so far: a grant's meshFull is stale if one came meanwhile. */
  private capacityHeard = 0;
  /** Each entry's runner state as this poller knows it (readState). */
  private readonly stateCache = new Map<string, KnownState>();
  private readonly now: () => number;
  private readonly log: Logger;
  private unsubscribe: (() => Promise<void>) | undefined;

  constructor(private readonly o: PollerOptions) {
    this.now = o.now ?? Date.now;
    this.log = o.logger.child({ component: "poller", poller: o.pollerId });
    this.targets = o.targets;
    this.checkIntervalMs = o.checkIntervalMs;
    for (const t of o.targets) secrets.add(t.token);
  }

  /** Runner entries this poller asks GitLab for (readiness). */
  get runnerCount(): number {
    return this.targets.length;
  }

  async start(): Promise<void> {
    this.runnersKv = await this.o.bus.kv(RUNNERS_BUCKET, runnerStateSchema);
    const sub = await this.o.bus.subscribe(capacityChanged, (m) => this.capacityFreed(m.data.free));
    this.unsubscribe = () => sub.unsubscribe();
    const queue = await this.o.bus.workQueue(ACCEPTED_JOBS_QUEUE, acceptedJobs, {
      ackWaitMs: ACCEPTED_ACK_WAIT_MS,
    });
    // One message per hand-out: GitLab may hand the same job out again after its
    // acknowledgement timed out, and that second hand-out must not be taken for a duplicate.
    this.handoff = (job, headers) => queue.add(job, { msgId: `${job.jobKey}.${job.acceptedAt}`, headers });
    this.startLanes();
    this.log.info({ runners: this.targets.map((t) => t.name) }, "poller started");
  }

  /**
   * A reloaded config.toml: lanes of the old generation finish the request they are in and stop;
   * new lanes start at once (leases keep the requests in flight within request_concurrency).
   * Health is wiped, as GitLab Runner does on reload.
   */
  async reload(targets: PollTarget[], checkIntervalMs: number): Promise<void> {
    for (const t of targets) secrets.add(t.token);
    this.targets = targets;
    this.checkIntervalMs = checkIntervalMs;
    for (const t of targets)
      await this.writeState(t, (s) => ({ ...s, failures: 0, lastHealthyAt: this.now() }));
    this.startLanes();
    this.wakeSleepers();
    this.log.info({ runners: targets.map((t) => t.name) }, "poller reloaded its runner entries");
  }

  private startLanes(): void {
    const generation = ++this.generation;
    const n = this.targets.length;
    this.targets.forEach((t, i) => {
      const lanes = Math.max(1, t.health.requestConcurrency);
      for (let lane = 0; lane < lanes; lane++) {
        const offset = staggerOffsetMs(i, n, this.checkIntervalMs);
        this.lanes.push(this.runLane(t, lane, offset, generation));
      }
    });
  }

  /** A lane goes on while nothing stops the poller and its config generation is current. */
  private laneLive(generation: number): boolean {
    return !this.stopping && generation === this.generation;
  }

  /** Stops asking for jobs (SIGQUIT and SIGTERM both do this first); in-flight long polls are cancelled. */
  async stopRequesting(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    this.wakeCapacityWaiters();
    await Promise.allSettled(this.lanes);
    await this.unsubscribe?.();
  }

  private wakeCapacityWaiters(): void {
    for (const w of [...this.capacityWaiters]) w();
  }

  /**
   * Wakes as many waiting lanes as slots are free, longest waiting first, rather than every lane
   * for one slot (each woken lane costs a runner-state read and a lease request, issue 16). A
   * woken lane refused for its own runner's reasons passes the wake to the next waiter, so a
   * slot another runner could use is not left until a lane's retry timer.
   */
  private capacityFreed(free: number): void {
    this.capacityHeard++;
    this.meshFull = false;
    const queue = [...this.capacityWaiters];
    let next = 0;
    const wake: CapacityWake = {
      passOn: () => {
        while (next < queue.length) {
          const w = queue[next++]!;
          if (!this.capacityWaiters.has(w)) continue;
          w(wake);
          return true;
        }
        return false;
      },
    };
    let unclaimed = 0;
    for (let i = 0; i < free; i++) if (!wake.passOn()) unclaimed++;
    // More slots than waiting lanes: a lane whose refusal is still on its way may take one.
    if (unclaimed > 0) this.capacityNews++;
  }

  private wakeSleepers(): void {
    for (const w of [...this.sleepers]) w();
  }

  /** Resolves after `ms`, at shutdown, or (wakeOnCapacity) with the wake when capacity frees up. */
  private sleep(ms: number, wakeOnCapacity = false): Promise<CapacityWake | undefined> {
    if (this.stopping || ms <= 0) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const onAbort = () => done();
      const done = (wake?: CapacityWake) => {
        clearTimeout(timer);
        this.abort.signal.removeEventListener("abort", onAbort);
        this.sleepers.delete(done);
        this.capacityWaiters.delete(done);
        resolve(wake);
      };
      const timer = setTimeout(() => done(), ms);
      this.sleepers.add(done);
      this.abort.signal.addEventListener("abort", onAbort, { once: true });
      if (wakeOnCapacity) this.capacityWaiters.add(done);
    });
  }

  private async runLane(t: PollTarget, lane: number, offsetMs: number, generation: number): Promise<void> {
    const log = this.log.child({ runner: t.name, lane });
    const ids: RunnerIds = { runner: t.settings.short_token, runnerName: t.name, systemId: this.o.systemId };
    const metrics = this.o.metrics;
    let nextAt = this.now() + offsetMs;
    // This entry's slots in the check_interval rhythm (GitLab Runner's feeder keeps them).
    const slotPhaseMs = nextAt % Math.max(1, this.checkIntervalMs);
    // Straight-back requests since this lane's last job or check_interval wait: a bounded
    // number, so a woken long poll that finds no job cannot start a tight loop (queueMoved).
    let fruitlessShortcuts = 0;
    // The state this lane just wrote, when it goes straight back to GitLab: re-reading it
    // would only add bus round trips to the pickup path.
    let carried: RunnerState | undefined;
    // The capacity wake-up that brought this lane back, until its lease request is answered.
    let woken: CapacityWake | undefined;
    // This lane already asked again at once for capacity freed while its last refusal travelled.
    let askedAgainOnNews = false;
    // This lane already waited once on the mesh being full (meshFull) without asking.
    let waitedOnFullMesh = false;
    // Lease requests nobody answered in a row (no scheduler yet, or it is restarting).
    let unanswered = 0;
    // The slot lease of a request whose 204 says the queue moved: the lane goes straight back to
    // GitLab with it instead of returning it and asking again (two bus round trips off the
    // pickup path, issue 16). Whatever path does not send that request returns it.
    let kept: GrantedLease | undefined;
    const returnKept = async () => {
      const lease = kept;
      kept = undefined;
      if (lease) await this.releaseLease(lease.leaseId, "no job");
    };
    while (this.laneLive(generation)) {
      await this.sleep(nextAt - this.now());
      if (!this.laneLive(generation)) break;
      try {
        const state = carried ?? (await this.readState(t, this.checkIntervalMs)).state;
        carried = undefined;
        const verdict = healthVerdict(state, this.now(), t.health);
        if (!verdict.poll) {
          log.warn(
            { until: new Date(verdict.untilMs).toISOString() },
            "runner is unhealthy; not polling until then",
          );
          nextAt = verdict.untilMs;
          await returnKept();
          continue;
        }
        if (verdict.forceCheck) await this.writeState(t, (s) => ({ ...s, failures: 0 }));
        const limit = maxInFlight(state, t.health);
        metrics?.requestLimits(ids, {
          hard: t.health.requestConcurrency,
          adaptive: t.health.adaptive === false ? t.health.requestConcurrency : state.adaptiveConcurrency,
          used: limit,
        });
        if (lane >= limit) {
          metrics?.requestConcurrencyExceeded(ids);
          // This lane is beyond the adaptive limit for now.
          nextAt = this.now() + this.checkIntervalMs;
          await returnKept();
          continue;
        }
        if (!kept && this.meshFull && !waitedOnFullMesh) {
          // Once per wait: a capacityChanged lost on the way must not keep the lane from asking.
          waitedOnFullMesh = true;
          woken = await this.sleep(this.o.meshFullRecheckMs ?? MESH_FULL_RECHECK_MS, true);
          nextAt = this.now();
          continue;
        }
        waitedOnFullMesh = false;
        const leaseAskedAt = this.now();
        const newsBefore = this.capacityNews;
        const heardBefore = this.capacityHeard;
        const reused = kept;
        kept = undefined;
        const lease: LeaseAnswer | undefined =
          reused ??
          (await this.o.bus
            .request(
              leaseAcquire,
              { runnerKey: t.key, pollerId: this.o.pollerId, maxInFlight: limit },
              { timeoutMs: 5000 },
            )
            .catch((e: Error) => {
              if (!(e instanceof BusNoRespondersError || e instanceof BusTimeoutError)) throw e;
              return undefined;
            }));
        if (!lease) {
          // No scheduler answers (not started yet, restarting, or its bus away): ask again soon
          // instead of losing a whole check_interval, doubling up to it.
          const waitMs = unansweredLeaseWaitMs(++unanswered, this.checkIntervalMs);
          if (unanswered === 1 || unanswered % 5 === 0)
            log.warn(
              { retryInMs: waitMs, attempts: unanswered },
              "no scheduler answers slot lease requests yet; waiting for one (is `runmesh scheduler` running on this bus?)",
            );
          nextAt = this.now() + waitMs;
          continue;
        }
        unanswered = 0;
        const wake = woken;
        woken = undefined;
        if (!lease.granted) {
          log.debug({ reason: lease.reason }, "no slot lease");
          // Refused for this runner's own reasons, not a full mesh: another runner's lane may fit.
          if (wake && leaseRefusal(lease.reason) !== "concurrent") wake.passOn();
          // Capacity freed while the refusal was on its way: that wake-up found this lane not yet
          // waiting, so ask again now rather than sleep out the retry (a lost wake-up cost a
          // pickup ~1 s, issue 16).
          if (this.capacityNews !== newsBefore && !askedAgainOnNews) {
            askedAgainOnNews = true; // once: a busy mesh's stream of news must not spin a lane
            nextAt = this.now();
            continue;
          }
          askedAgainOnNews = false;
          woken = await this.sleep(lease.retryAfterMs, true);
          nextAt = this.now();
          continue;
        }
        askedAgainOnNews = false;
        if (!reused && this.capacityHeard === heardBefore) this.meshFull = lease.meshFull === true;
        const startedAt = this.now();
        // A lost lease (scheduler restarted, bus away) never cuts the request short: GitLab may
        // be answering it with a job, and the scheduler places a job that comes without a lease.
        let renewing = true;
        const lost = (why: string) => {
          if (!renewing) return;
          renewing = false;
          log.warn({ lease: lease.leaseId, why }, "slot lease lost during jobs/request; the request goes on");
        };
        const renew = setInterval(
          () =>
            void this.o.bus.request(leaseRenew, { leaseId: lease.leaseId }).then(
              (r) => r.ok || lost("the scheduler no longer knows it"),
              (e: Error) => lost(e.message),
            ),
          Math.max(200, lease.ttlMs / 3),
        );
        let handedOff = false;
        let outcome: RequestOutcome;
        let queueChanged = false;
        const requestEnded = metrics?.requestStarted(ids);
        try {
          const r = await t.client.requestJob({
            token: t.token,
            systemId: this.o.systemId,
            info: t.info,
            lastUpdate: state.lastUpdate,
            signal: this.abort.signal,
          });
          requestEnded?.();
          // A request with no HTTP answer is not counted, as GitLab Runner's clientError.
          const status = r.kind === "job" ? 201 : r.status;
          if (metrics && status !== undefined && status > 0)
            metrics.apiRequest(ids, "request_job", "POST", status, (this.now() - startedAt) / 1000);
          if (metrics && r.kind === "job") {
            metrics.pickup("lease", t.name, (startedAt - leaseAskedAt) / 1000);
            metrics.pickup("request", t.name, (this.now() - startedAt) / 1000);
          }
          fruitlessShortcuts = shortcutsCounted(
            fruitlessShortcuts,
            this.now() - startedAt,
            this.checkIntervalMs,
          );
          queueChanged =
            r.kind === "none" &&
            r.reason === "no_content" &&
            queueMoved({
              sent: state.lastUpdate,
              received: r.lastUpdate,
              longPolling: r.longPolling,
              fruitlessShortcuts,
            });
          fruitlessShortcuts = queueChanged ? fruitlessShortcuts + 1 : 0;
          if (r.kind === "job") {
            outcome = {
              gotJob: true,
              healthy: true,
              retriableSeen: r.retriableSeen,
              lastUpdate: r.lastUpdate,
            };
            using _jobToken = secrets.hold(r.jobToken);
            failpoint("poller.after_201");
            const accepted: AcceptedJob = {
              jobKey: jobKeyOf(t.url, r.id),
              gitlabUrl: t.url,
              runnerKey: t.key,
              runnerName: t.name,
              jobId: r.id,
              jobToken: r.jobToken,
              timeoutS: r.timeoutS,
              payload: r.body,
              runner: t.settings,
              systemId: this.o.systemId,
              leaseId: lease.leaseId,
              workerId: lease.workerId,
              pollerId: this.o.pollerId,
              acceptedAt: this.now(),
              tls: t.tls,
            };
            handedOff = await this.deliver(t, accepted, log);
            failpoint("poller.after_handoff");
            if (handedOff) log.info({ job: r.id }, "job accepted and handed to the scheduler");
          } else {
            outcome = {
              gotJob: false,
              healthy: r.healthy,
              retriableSeen: r.retriableSeen,
              lastUpdate: r.lastUpdate,
            };
            if (r.reason === "forbidden")
              log.warn({ status: r.status }, "jobs/request forbidden (403): check the runner token");
            else if (r.reason !== "no_content")
              log.warn({ status: r.status, reason: r.reason }, "jobs/request gave no job");
          }
        } finally {
          requestEnded?.();
          clearInterval(renew);
          const held = renewing;
          // A renewal answered after this point speaks of a lease already returned or turned into the job's slot.
          renewing = false;
          // A handed-off job's lease became its slot; any other is kept for the next request or returned.
          if (!handedOff) {
            if (queueChanged && held && !this.stopping) kept = lease;
            else await this.releaseLease(lease.leaseId, "no job");
          }
        }
        // A request we cut short ourselves (shutdown) says nothing about GitLab's health.
        if (this.stopping) break;
        const written = this.writeState(t, (s) => applyOutcome(s, outcome, this.now(), t.health));
        if (queueChanged) {
          carried = applyOutcome(state, outcome, this.now(), t.health);
          written.catch((e: Error) => log.warn({ err: e.message }, "runner state not saved"));
        } else await written;
        nextAt = nextRequestAt({
          startedAt,
          endedAt: this.now(),
          checkIntervalMs: this.checkIntervalMs,
          gotJob: outcome.gotJob,
          strictCheckInterval: t.strictCheckInterval,
          queueChanged,
          slotPhaseMs,
        });
      } catch (e) {
        if (this.stopping) break;
        log.error({ err: (e as Error).message }, "poll cycle failed; retrying after check_interval");
        nextAt = this.now() + this.checkIntervalMs;
        await returnKept();
      }
    }
    await returnKept();
  }

  private releaseLease(leaseId: string, reason: string): Promise<void> {
    return this.o.bus
      .request(leaseRelease, { leaseId, reason }, { timeoutMs: 5000 })
      .then(() => {})
      .catch(() => {});
  }

  /**
   * Hands a job GitLab gave us to the scheduler, whatever became of the lease meanwhile (the
   * scheduler places a job without one). A job that cannot be handed over is failed at GitLab
   * with the reason in its log, never left assigned. Returns whether it was handed over.
   */
  private async deliver(t: PollTarget, job: AcceptedJob, log: Logger): Promise<boolean> {
    // The first span of the job's trace: GitLab's 201 to the hand-off to the scheduler.
    const span = (this.o.tracing ?? noTracing).start("runmesh.poller.accept", {
      attributes: {
        "runmesh.job.id": job.jobId,
        "runmesh.runner": job.runnerName,
        "runmesh.poller": this.o.pollerId,
      },
    });
    const delivered = await this.deliverTraced(t, job, log, span.headers());
    span.end(delivered ? undefined : "the job could not be handed to the scheduler");
    return delivered;
  }

  private async deliverTraced(
    t: PollTarget,
    job: AcceptedJob,
    log: Logger,
    headers: Headers,
  ): Promise<boolean> {
    let handed: AcceptedJob;
    try {
      handed = await stowPayload(this.o.bus, job);
    } catch (e) {
      const size = formatBytes(new TextEncoder().encode(job.payload).byteLength);
      const why =
        e instanceof BlobStoreFullError
          ? `the mesh's payload store has no room for it (${e.message}); raise the JetStream storage limits of the NATS server`
          : (e as Error).message;
      await this.failAtGitLab(
        t,
        job,
        log,
        `runmesh could not hand the job payload (${size}) to an executor worker: ${why}`,
      );
      return false;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await this.handoff(handed, headers);
        return true;
      } catch (e) {
        const err = (e as Error).message;
        if (attempt >= HANDOFF_ATTEMPTS) {
          await discardPayload(this.o.bus, handed).catch(() => {});
          await this.failAtGitLab(t, job, log, `runmesh could not hand the job to its scheduler: ${err}`);
          return false;
        }
        log.warn({ job: job.jobId, attempt, err }, "job handoff to the scheduler failed; retrying");
        // Not this.sleep: a job GitLab handed out is handed over or failed, even while stopping.
        await Bun.sleep(HANDOFF_RETRY_MS * attempt);
      }
    }
  }

  private async failAtGitLab(t: PollTarget, job: AcceptedJob, log: Logger, why: string): Promise<void> {
    log.error({ job: job.jobId }, why);
    await new GitLabReporter(
      () => t.client,
      () => t.info,
      log,
    )
      .failJob(job, 0, why, { acknowledgeFirst: true })
      .catch((e: Error) => log.error({ job: job.jobId, err: e.message }, "could not fail the job at GitLab"));
  }

  /**
   * The entry's shared state: from this poller's last read or write of it when that is at most
   * `maxAgeMs` old (its lanes keep it current; another poller's writes show within that time or
   * at our next compare-and-set), else from the bus (issue 16: a read per lane per cycle was two
   * of a trivial job's NATS round trips).
   */
  private async readState(t: PollTarget, maxAgeMs = 0): Promise<KnownState> {
    const known = this.stateCache.get(t.key);
    if (known && this.now() - known.at <= maxAgeMs) return known;
    const e = await this.runnersKv.get(t.key);
    // Nobody wrote since: this poller's unsaved changes (the queue value) still stand.
    const unchanged = known && e && e.revision === known.revision;
    const stored = e ? e.value : initialRunnerState(this.now());
    const read = { state: unchanged ? known.state : stored, stored, revision: e?.revision, at: this.now() };
    this.stateCache.set(t.key, read);
    return read;
  }

  /**
   * Compare-and-set update, so several pollers serving one entry share its state. A change
   * stateWorthSaving finds too small against the stored state stays in this poller's cache (its
   * lanes use it at once) until a later one goes out with it.
   */
  private async writeState(t: PollTarget, change: (s: RunnerState) => RunnerState): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      // First against the state this poller last saw (a conflict means someone else wrote since).
      const known = await this.readState(t, attempt === 0 ? Number.POSITIVE_INFINITY : 0);
      const { state, stored, revision } = known;
      try {
        const next = change(state);
        if (revision !== undefined && !stateWorthSaving(stored, next)) {
          this.stateCache.set(t.key, { ...known, state: next });
          return;
        }
        const written =
          revision === undefined
            ? await this.runnersKv.create(t.key, next)
            : await this.runnersKv.update(t.key, next, revision);
        this.stateCache.set(t.key, { state: next, stored: next, revision: written, at: this.now() });
        return;
      } catch (e) {
        if (!(e instanceof KvConflictError)) throw e;
      }
    }
  }
}
