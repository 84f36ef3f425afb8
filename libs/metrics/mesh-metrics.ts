// One process's metrics: a prom-client Registry of its own (never prom-client's global one, so
// tests and tiers in one process do not share counters by accident) holding GitLab Runner's
// metrics and runmesh's (metric-names.ts). Tiers record through the methods below; gauges whose
// truth lives in a tier (scheduler capacity, running jobs) are read from it at scrape time.
// Loaded only when a listen address is set (process-metrics.ts imports it dynamically).
import { arch, platform } from "node:os";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { jobUrl, type ListedJob } from "./job-list.ts";
import {
  FLEETING_METRICS as F,
  GITLAB_RUNNER_METRICS as G,
  type MetricSpec,
  type PickupPhase,
  RUNMESH_METRICS as R,
  type ScaleOperation,
  type TaskOperation,
} from "./metric-names.ts";

/** How GitLab Runner names a runner entry in labels. */
export interface RunnerIds {
  /** The short token (GitLab Runner's ShortDescription). */
  runner: string;
  runnerName: string;
  systemId: string;
}

/** The scheduler's capacity, read at scrape time. */
export interface CapacityView {
  concurrent: number;
  runners: { ids: RunnerIds; limit: number }[];
  workers: { id: string; slots: number; used: number }[];
}

/** One instance group as its active autoscaler sees it, read at scrape time. */
export interface InstanceGroupView {
  ids: RunnerIds;
  /** Instances by fleeting state: requested, creating, running, deleting. */
  instances: Record<string, number>;
  maxInstances: number;
  /** Task slots by taskscaler state: idle, pending, acquired, reserved, unavailable, unhealthy. */
  tasks: Record<string, number>;
  capacityPerInstance: number;
  maxUseCount: number;
  desiredInstances: number;
}

/** What an autoscaler counts as it goes. */
export interface AutoscalerCounters {
  scaled(operation: ScaleOperation, instances: number): void;
  task(operation: TaskOperation): void;
}

/** One job on a worker, from claim to its end: feeds gitlab_runner_jobs and /debug/jobs/list. */
export interface JobWatch {
  /** The payload is at hand (its repo_url names the job's URL in /debug/jobs/list). */
  payload(json: string): void;
  /** Acknowledged at GitLab: the job runs. */
  running(): void;
  /** The build stage and executor stage the job is in now (executor-stages.ts). */
  stage(stage: string, executorStage: string): void;
  finished(state: "success" | "failed", failureReason?: string): void;
  /** Refused by GitLab at pickup, or given up: gone without a result. */
  dropped(): void;
}

/** GitLab Runner's job execution mode label: runmesh runs every job the traditional way. */
const MODE = "traditional";

const LOG_LEVELS = ["panic", "fatal", "error", "warning"] as const;

type Labels<S extends MetricSpec> = S["labels"][number];

function counter<S extends MetricSpec>(registry: Registry, s: S) {
  return new Counter<Labels<S>>({
    name: s.name,
    help: s.help,
    labelNames: [...s.labels],
    registers: [registry],
  });
}
function histogram<S extends MetricSpec>(registry: Registry, s: S) {
  return new Histogram<Labels<S>>({
    name: s.name,
    help: s.help,
    labelNames: [...s.labels],
    buckets: [...(s.buckets ?? [])],
    registers: [registry],
  });
}
function gauge<S extends MetricSpec>(registry: Registry, s: S, collect?: (g: Gauge<Labels<S>>) => void) {
  const g: Gauge<Labels<S>> = new Gauge<Labels<S>>({
    name: s.name,
    help: s.help,
    labelNames: [...s.labels],
    registers: [registry],
    ...(collect ? { collect: () => collect(g) } : {}),
  });
  return g;
}

/** Go's statusClass (network/api_requests_collector.go). */
export function statusClass(status: number): string {
  if (status >= 600) return "unknown";
  if (status >= 500) return "5xx";
  if (status >= 400) return "4xx";
  if (status >= 300) return "3xx";
  if (status >= 200) return "2xx";
  if (status >= 100) return "1xx";
  return "unknown";
}

interface WatchedJob extends ListedJob {
  ids: RunnerIds;
  gitlabUrl: string;
  jobId: number;
  payload?: string;
}

export class MeshMetrics {
  readonly registry = new Registry();
  private readonly capacitySources = new Set<() => CapacityView>();
  private readonly groupSources = new Set<() => InstanceGroupView | undefined>();
  private readonly runningJobs = new Set<WatchedJob>();
  /** Runner entries a worker has run jobs for: each keeps an `idle` row, as GitLab Runner does. */
  private readonly seenRunners = new Map<string, RunnerIds>();
  private readonly errors = counter(this.registry, G.errors);
  private readonly jobsTotal = counter(this.registry, G.jobsTotal);
  private readonly failedJobs = counter(this.registry, G.failedJobs);
  private readonly jobDuration = histogram(this.registry, G.jobDuration);
  private readonly apiStatuses = counter(this.registry, G.apiRequestStatuses);
  private readonly apiDuration = histogram(this.registry, G.apiRequestDuration);
  private readonly requestConcurrency = gauge(this.registry, G.requestConcurrency);
  private readonly requestExceeded = counter(this.registry, G.requestConcurrencyExceeded);
  private readonly requestHardLimit = gauge(this.registry, G.requestConcurrencyHardLimit);
  private readonly requestAdaptiveLimit = gauge(this.registry, G.requestConcurrencyAdaptiveLimit);
  private readonly requestUsedLimit = gauge(this.registry, G.requestConcurrencyUsedLimit);
  private readonly leases = counter(this.registry, R.leases);
  private readonly dispatchDuration = histogram(this.registry, R.dispatchDuration);
  private readonly roundTrips = counter(this.registry, R.busRoundTrips);
  private readonly roundTripDuration = histogram(this.registry, R.busRoundTripDuration);
  private readonly pickupDuration = histogram(this.registry, R.pickup);

  constructor(o: { version: string; revision: string; now?: () => number }) {
    this.now = o.now ?? Date.now;
    gauge(this.registry, G.versionInfo).set(
      {
        name: "runmesh",
        version: o.version,
        revision: o.revision,
        branch: "",
        // The runtime in GitLab Runner's label for it.
        go_version: `bun${Bun.version}`,
        built_at: "",
        os: platform(),
        architecture: arch() === "x64" ? "amd64" : arch(),
      },
      1,
    );
    for (const level of LOG_LEVELS) this.errors.inc({ level }, 0);
    gauge(this.registry, G.jobs, (g) => {
      g.reset();
      for (const ids of this.seenRunners.values())
        g.set({ ...this.runnerLabels(ids), state: "idle", stage: "idle", executor_stage: "idle" }, 0);
      for (const j of this.runningJobs)
        g.inc({
          ...this.runnerLabels(j.ids),
          state: j.state,
          stage: j.stage,
          executor_stage: j.executorStage,
        });
    });
    // process_* and nodejs_* (under Bun: no GC histogram, heap spaces read 0; see README).
    collectDefaultMetrics({ register: this.registry });
  }

  private readonly now: () => number;

  private views(): CapacityView[] {
    return [...this.capacitySources].map((f) => f());
  }

  private runnerLabels(ids: RunnerIds) {
    return { runner: ids.runner, runner_name: ids.runnerName, system_id: ids.systemId };
  }

  /** Prometheus text (exposition format 0.0.4). */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  // ── every tier ────────────────────────────────────────────────────────────────────────────

  /** A log line at warn level or above (GitLab Runner's log hook counts the same levels). */
  logged(level: (typeof LOG_LEVELS)[number]): void {
    this.errors.inc({ level });
  }

  busRoundTrip(tier: string, subject: string, outcome: string, seconds: number): void {
    this.roundTrips.inc({ tier, subject, outcome });
    this.roundTripDuration.observe({ tier, subject }, seconds);
  }

  pickup(phase: PickupPhase, runnerName: string, seconds: number): void {
    this.pickupDuration.observe({ runner_name: runnerName, phase }, seconds);
  }

  // ── poller ────────────────────────────────────────────────────────────────────────────────

  apiRequest(ids: RunnerIds, endpoint: string, method: string, status: number, seconds: number): void {
    const m = method.toLowerCase();
    this.apiStatuses.inc({
      runner: ids.runner,
      system_id: ids.systemId,
      endpoint,
      status: String(status),
      method: m,
    });
    this.apiDuration.observe(
      { runner: ids.runner, system_id: ids.systemId, endpoint, status_class: statusClass(status), method: m },
      seconds,
    );
  }

  /** One jobs/request goes out; the returned function marks its end. */
  requestStarted(ids: RunnerIds): () => void {
    const labels = { runner: ids.runner, system_id: ids.systemId };
    this.requestConcurrency.inc(labels);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.requestConcurrency.dec(labels);
    };
  }

  requestLimits(ids: RunnerIds, l: { hard: number; adaptive: number; used: number }): void {
    const labels = { runner: ids.runner, system_id: ids.systemId };
    this.requestConcurrency.inc(labels, 0);
    this.requestExceeded.inc(labels, 0);
    this.requestHardLimit.set(labels, l.hard);
    this.requestAdaptiveLimit.set(labels, l.adaptive);
    this.requestUsedLimit.set(labels, l.used);
  }

  requestConcurrencyExceeded(ids: RunnerIds): void {
    this.requestExceeded.inc({ runner: ids.runner, system_id: ids.systemId });
  }

  // ── scheduler ─────────────────────────────────────────────────────────────────────────────

  /** The scheduler's capacity, read at each scrape; the returned function stops reading it. */
  watchCapacity(view: () => CapacityView): () => void {
    // Registered with the first source: a process without a scheduler shows no concurrent = 0.
    if (!this.registry.getSingleMetric(G.concurrent.name)) this.capacityGauges();
    this.capacitySources.add(view);
    return () => this.capacitySources.delete(view);
  }

  private capacityGauges(): void {
    gauge(this.registry, G.concurrent, (g) => {
      g.reset();
      for (const view of this.views()) g.set(view.concurrent);
    });
    gauge(this.registry, G.limit, (g) => {
      g.reset();
      for (const view of this.views()) for (const r of view.runners) g.set(this.runnerLabels(r.ids), r.limit);
    });
    gauge(this.registry, R.workerSlots, (g) => {
      g.reset();
      for (const view of this.views())
        for (const w of view.workers) {
          g.set({ worker: w.id, state: "used" }, w.used);
          g.set({ worker: w.id, state: "free" }, Math.max(0, w.slots - w.used));
        }
    });
  }

  lease(runnerName: string, granted: boolean, reason = ""): void {
    this.leases.inc({ runner_name: runnerName, outcome: granted ? "granted" : "refused", reason });
  }

  dispatched(accepted: boolean, seconds: number): void {
    this.dispatchDuration.observe({ outcome: accepted ? "accepted" : "refused" }, seconds);
  }

  // ── autoscaler ────────────────────────────────────────────────────────────────────────────

  /**
   * An instance group, read at each scrape while its autoscaler is active (the view returns
   * undefined while it stands by); the returned counters count its decisions and hand-outs.
   */
  watchInstanceGroup(ids: RunnerIds, view: () => InstanceGroupView | undefined): AutoscalerCounters {
    if (!this.registry.getSingleMetric(F.instances.name)) this.groupGauges();
    this.groupSources.add(view);
    const labels = this.runnerLabels(ids);
    const scale = (this.registry.getSingleMetric(F.scaleOperations.name) ??
      counter(this.registry, F.scaleOperations)) as Counter<string>;
    const tasks = (this.registry.getSingleMetric(F.taskOperations.name) ??
      counter(this.registry, F.taskOperations)) as Counter<string>;
    for (const operation of ["up", "down"]) scale.inc({ ...labels, operation }, 0);
    return {
      scaled: (operation, instances) => scale.inc({ ...labels, operation }, instances),
      task: (operation) => tasks.inc({ ...labels, operation }),
    };
  }

  private groupGauges(): void {
    const each = (f: (v: InstanceGroupView, labels: ReturnType<MeshMetrics["runnerLabels"]>) => void) => {
      for (const source of this.groupSources) {
        const v = source();
        if (v) f(v, this.runnerLabels(v.ids));
      }
    };
    gauge(this.registry, F.instances, (g) => {
      g.reset();
      each((v, l) => {
        for (const [state, n] of Object.entries(v.instances)) g.set({ ...l, state }, n);
      });
    });
    gauge(this.registry, F.tasks, (g) => {
      g.reset();
      each((v, l) => {
        for (const [state, n] of Object.entries(v.tasks)) g.set({ ...l, state }, n);
      });
    });
    gauge(this.registry, F.maxInstances, (g) => {
      g.reset();
      each((v, l) => g.set(l, v.maxInstances));
    });
    gauge(this.registry, F.maxTasksPerInstance, (g) => {
      g.reset();
      each((v, l) => g.set(l, v.capacityPerInstance));
    });
    gauge(this.registry, F.maxUseCountPerInstance, (g) => {
      g.reset();
      each((v, l) => g.set(l, v.maxUseCount));
    });
    gauge(this.registry, F.desiredInstances, (g) => {
      g.reset();
      each((v, l) => g.set(l, v.desiredInstances));
    });
  }

  // ── worker ────────────────────────────────────────────────────────────────────────────────

  /** A worker claimed a job: counted in gitlab_runner_jobs_total at once, as GitLab Runner's addBuild. */
  jobStarted(ids: RunnerIds, job: { gitlabUrl: string; jobId: number }): JobWatch {
    const startedAt = this.now();
    this.seenRunners.set(`${ids.runner}\0${ids.runnerName}\0${ids.systemId}`, ids);
    this.jobsTotal.inc(this.runnerLabels(ids));
    const self = this;
    const w: WatchedJob = {
      ids,
      gitlabUrl: job.gitlabUrl,
      jobId: job.jobId,
      url: "",
      state: "pending",
      stage: "",
      executorStage: "",
      startedAt,
    };
    this.runningJobs.add(w);
    let ended = false;
    const end = () => {
      if (ended) return false;
      ended = true;
      self.runningJobs.delete(w);
      return true;
    };
    return {
      payload(json) {
        w.payload = json;
      },
      running() {
        w.state = "running";
      },
      stage(stage, executorStage) {
        w.stage = stage;
        w.executorStage = executorStage;
      },
      finished(state, failureReason) {
        if (!end()) return;
        self.jobDuration.observe({ ...self.runnerLabels(ids), mode: MODE }, (self.now() - startedAt) / 1000);
        if (state === "failed")
          self.failedJobs.inc({
            runner: ids.runner,
            runner_name: ids.runnerName,
            failure_reason: failureReason ?? "unknown_failure",
            mode: MODE,
          });
      },
      dropped() {
        end();
      },
    };
  }

  /** Running jobs for /debug/jobs/list, their URLs resolved now (the payload is read only here). */
  listedJobs(): ListedJob[] {
    return [...this.runningJobs].map((j) => ({
      ...j,
      url: jobUrl(repoUrlOf(j.payload), j.gitlabUrl, j.jobId),
    }));
  }
}

function repoUrlOf(payload: string | undefined): string | undefined {
  if (!payload) return undefined;
  try {
    const repo = (JSON.parse(payload) as { git_info?: { repo_url?: unknown } }).git_info?.repo_url;
    return typeof repo === "string" ? repo : undefined;
  } catch {
    return undefined;
  }
}
