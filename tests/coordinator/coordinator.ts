// A GitLab stand-in for runmesh's tests, demo and benchmarks: the Runner API as GitLab Rails and
// Workhorse answer it (runner-api.md (a) "Server-side view", checked against lib/api/ci/runner.rb,
// lib/api/ci/helpers/runner.rb, UpdateBuildStateService, AppendBuildTraceService and Workhorse's
// builds/register.go). It is the only fake in the project, so it rejects what GitLab rejects, with
// GitLab's status codes and headers; where it is deliberately stricter, the comment says so.
import { EventEmitter } from "node:events";
import { type ArtifactStore, artifactRoutes } from "./artifacts-routes.ts";
import { parseContentRangeStart } from "./content-range.ts";
import { GITLAB_FAILURE_REASONS } from "./failure-reasons.ts";
import { buildJobPayload, type JobSpec } from "./job-payload.ts";
import { missingRunnerFeatures, requiredRunnerFeatures } from "./runner-features.ts";
import { traceAcceptBackoffSeconds } from "./trace-backoff.ts";

export type { GitInfo, JobSpec, JobVariable } from "./job-payload.ts";

/** GitLab's job statuses, plus `waiting_for_ack` (GitLab: `pending` with a runner manager waiting to ack). */
export type JobStatus =
  | "pending"
  | "waiting_for_ack"
  | "running"
  | "canceling"
  | "success"
  | "failed"
  | "canceled";

export interface CoordinatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Workhorse's long-poll hold (`apiCiLongPollingDuration`); Omnibus/Helm configure 50 s. 0 disables long polling. */
  longPollMs?: number;
  /** PATCH's X-GitLab-Trace-Update-Interval while nobody watches the job page (GitLab: 60). */
  traceUpdateIntervalS?: number;
  /** Hand jobs out for acknowledgement when the runner advertises two_phase_job_commit (default true). */
  twoPhaseCommit?: boolean;
  /**
   * How long a handed-out job waits for its ack (GitLab: 2 min). Then, as GitLab's
   * RetryWaitingJobService, it is dropped with runner_provisioning_timeout and retried as a new job.
   */
  ackTimeoutMs?: number;
  /** Project trace size limit; a PATCH beyond it drops the job with trace_size_exceeded and gets 403. */
  traceSizeLimitBytes?: number;
  /** The next n final PUTs carrying a checksum get 202 "accepted, trace not persisted yet". */
  finalizeDelayPuts?: number;
  /** Called for every runner-API request once it has been answered. */
  onRequest?: (record: RequestRecord) => void;
  /**
   * Audit this coordinator after every test (tests/protocol-audit.ts): no violation, every final
   * checksum and bytesize right, every failure reason listed. Default true; only the coordinator's
   * own tests, which send what gitlab-runner never would, turn it off.
   */
  audit?: boolean;
  /** Extra routes served before the Runner API (main.ts mounts /__admin/ here); not recorded. */
  extraRoutes?: (req: Request, url: URL) => Promise<Response | undefined> | Response | undefined;
}

export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  applyTrace?: boolean;
}

export interface FailOptions {
  status: number;
  /**
   * Retry-After, integer seconds. 429 and 503 carry one by default (1 s here; GitLab's rack-attack
   * and migration backoff send up to 60); `null` leaves the header out.
   */
  retryAfterS?: number | null;
  /** RateLimit-ResetTime, sent as an RFC 1123 date. */
  rateLimitResetTime?: Date;
  /** Job-Status header to add (PATCH/PUT faults). */
  jobStatus?: string;
}

export interface RequestRecord {
  seq: number;
  method: string;
  path: string;
  /** The body as received. */
  raw: Uint8Array;
  query: Record<string, string>;
  /** Lower-cased names. */
  headers: Record<string, string>;
  /** Parsed JSON/form body; for trace PATCHes `{ bytes, text }`; undefined when empty. */
  body: unknown;
  /** 0 while the request is still being answered (e.g. a long poll in flight). */
  status: number;
  responseHeaders: Record<string, string>;
  receivedAt: number;
  answeredAt: number;
}

export interface PatchRecord {
  start: number;
  length: number;
  /** What the coordinator held when the PATCH arrived: start < sizeBefore is a rewind. */
  sizeBefore: number;
  status: number;
  at: number;
}

export interface PutRecord {
  body: Record<string, unknown>;
  state: string | undefined;
  status: number;
  at: number;
}

export interface FinalUpdate {
  state: string;
  failureReason: string | undefined;
  /** Whether failure_reason is one the job's features.failure_reasons listed. */
  failureReasonListed: boolean;
  exitCode: number | undefined;
  checksum: string | undefined;
  bytesize: number | undefined;
  /** The checksum GitLab would compute over the trace it holds. */
  expectedChecksum: string;
  expectedBytesize: number;
  checksumMatches: boolean;
  bytesizeMatches: boolean;
}

const FINAL_STATUSES: ReadonlySet<JobStatus> = new Set(["success", "failed", "canceled"]);
const LEGACY_SYSTEM_ID = "<legacy>";
const MAX_REGISTER_BODY = 32 * 1024;

export function crc32Checksum(bytes: Uint8Array): string {
  return `crc32:${Bun.hash.crc32(bytes).toString(16).padStart(8, "0")}`;
}

export class CoordinatorJob {
  status: JobStatus = "pending";
  /** Status history with times (ms since epoch). */
  readonly history: { status: JobStatus; at: number }[] = [];
  readonly patches: PatchRecord[] = [];
  readonly puts: PutRecord[] = [];
  /** PUT state=running that moved the job from waiting_for_ack to running. */
  acknowledgements = 0;
  /** PUT state=pending keep-alives accepted while waiting for the ack. */
  keepalives = 0;
  /** The system_id of the jobs/request that took it (`<legacy>` when none was sent). */
  systemId: string | undefined;
  /** The runner manager the job is bound to once running (GitLab's build.runner_manager). */
  runnerManager: string | undefined;
  /** info.features of the jobs/request that took it. */
  features: Record<string, unknown> = {};
  final: FinalUpdate | undefined;
  failureReason: string | undefined;
  exitCode: number | undefined;
  enqueuedAt = Date.now();
  assignedAt: number | undefined;
  runningAt: number | undefined;
  finishedAt: number | undefined;
  /** Positions of those moments on the coordinator's own event sequence: wall-clock ms can tie. */
  readonly timeline: { assigned?: number; running?: number; finished?: number } = {};
  /** PATCH answers X-GitLab-Trace-Update-Interval 3 while someone "watches the job page". */
  watched = false;
  /** When the first 202-accepted final PUT happened (drives the backoff header). */
  pendingStateAt: number | undefined;
  ackTimer: ReturnType<typeof setTimeout> | undefined;
  /** Runner features this job needs (GitLab's RUNNER_FEATURES); a runner without them never gets it. */
  requiredFeatures: string[] = [];
  /** The job GitLab created when this one was dropped unacknowledged (RetryWaitingJobService). */
  retriedAs: number | undefined;
  /** The job this one retries. */
  retryOf: number | undefined;
  /** The features whose absence made GitLab drop it as runner_unsupported. */
  unsupportedFeatures: string[] | undefined;
  private buffer = new Uint8Array(1024);
  private size = 0;

  constructor(
    readonly id: number,
    readonly token: string,
    readonly runnerToken: string,
    readonly spec: JobSpec,
    readonly payload: Record<string, unknown>,
  ) {}

  get trace(): Uint8Array {
    return this.buffer.slice(0, this.size);
  }

  get traceText(): string {
    return new TextDecoder().decode(this.trace);
  }

  get traceSize(): number {
    return this.size;
  }

  get isFinal(): boolean {
    return FINAL_STATUSES.has(this.status);
  }

  /** What GitLab shows in Job-Status (a job waiting for its ack is still `pending` there). */
  get wireStatus(): string {
    return this.status === "waiting_for_ack" ? "pending" : this.status;
  }

  /** PATCHes GitLab stored, in order (a 416 or 403 stores nothing). */
  get acceptedPatches(): PatchRecord[] {
    return this.patches.filter((p) => p.status === 202);
  }

  /** PATCHes that started below what GitLab already held: a resend of bytes it has. */
  get rewinds(): PatchRecord[] {
    return this.patches.filter((p) => p.start >= 0 && p.start < p.sizeBefore);
  }

  /** GitLab's Trace#append writes only at exactly the current length; the caller checked that. */
  appendTrace(data: Uint8Array): void {
    const end = this.size + data.length;
    if (end > this.buffer.length) {
      const grown = new Uint8Array(Math.max(end, this.buffer.length * 2));
      grown.set(this.buffer.subarray(0, this.size));
      this.buffer = grown;
    }
    this.buffer.set(data, this.size);
    this.size = end;
  }
}

interface RunnerRecord {
  token: string;
  /** Tokens this runner had before reset_authentication_token, oldest first. */
  previousTokens: string[];
  tokenLifetimeMs: number | undefined;
  tokenExpiresAt: Date | undefined;
  id: number;
  paused: boolean;
  forbidden: boolean;
  queueValue: string;
  waiters: Set<() => void>;
  /** Pending job ids, oldest first. */
  queue: number[];
  /** system_id → last info.features seen from that manager. */
  managers: Map<string, Record<string, unknown>>;
}

interface Fault {
  remaining: number;
  options: FailOptions;
}

export interface Coordinator {
  readonly url: string;
  readonly requests: RequestRecord[];
  readonly jobs: Map<number, CoordinatorJob>;
  /** Things GitLab tolerates but gitlab-runner never does (e.g. no system_id). */
  readonly violations: string[];
  /** Whether stop() has been called. */
  readonly stopped: boolean;
  readonly events: EventEmitter;
  /** Artifacts uploaded with POST jobs/:id/artifacts, and the size limit (artifacts-routes.ts). */
  readonly artifacts: ArtifactStore;
  stop(): Promise<void>;
  /**
   * `tokenLifetimeMs`: the runner's tokens expire that long after they are issued (GitLab's
   * runner_token_expiration_interval): verify and reset_authentication_token then answer a
   * token_expires_at.
   */
  registerRunner(token: string, opts?: { paused?: boolean; tokenLifetimeMs?: number }): void;
  /** The runner's token now, given any token it ever had (after reset_authentication_token). */
  currentToken(anyToken: string): string;
  /** A (legacy) registration token `POST runners` accepts; `gone`: registration disallowed (410). */
  acceptRegistrationToken(token: string, opts?: { gone?: boolean }): void;
  setRunnerPaused(token: string, paused: boolean): void;
  setRunnerForbidden(token: string, forbidden?: boolean): void;
  /** The runner's current queue value (what X-GitLab-Last-Update carries). */
  queueValue(token: string): string;
  /** Resolves once Workhorse holds a long poll: at once when one is held now. */
  whenLongPollHeld(): Promise<void>;
  /** The managers (system_id → info.features) a runner token has been seen with. */
  managers(token: string): Map<string, Record<string, unknown>>;
  enqueueJob(runnerToken: string, spec?: JobSpec): CoordinatorJob;
  /**
   * A job already running on a manager of the runner, as if jobs/request had handed it out and
   * the runner acknowledged it: for tests of the job-token endpoints alone.
   */
  runJob(runnerToken: string, spec?: JobSpec, systemId?: string): CoordinatorJob;
  /**
   * Answers to serve, in order, for `"<METHOD> <path under /api/v4/>"` (e.g. `"PUT jobs/1001"`)
   * before the Runner API sees the request: a scripted GitLab oddity (a legacy plain-text 200, a
   * 201 that is not JSON). `applyTrace` lets a PATCH go through the strict append first and only
   * overrides its status and headers. Recorded like any other request.
   */
  script(route: string, ...answers: ScriptedAnswer[]): void;
  /** Answered requests for one route (`"<METHOD> <path under /api/v4/>"`), in arrival order. */
  calls(route: string): RequestRecord[];
  cancel(jobId: number): JobStatus;
  abort(jobId: number): JobStatus;
  setTraceWatched(jobId: number, watched: boolean): void;
  failNextRequests(n: number, options: FailOptions | number): void;
  failNextPatches(n: number, options: FailOptions | number): void;
  failNextUpdates(n: number, options: FailOptions | number): void;
  /** The next n final PUTs (success/failed) get 202 + X-GitLab-Trace-Update-Interval. */
  delayNextFinalizations(n: number): void;
  /** The next n final PUTs get 412 (trace validation failed: the runner must resend the whole trace). */
  failNextTraceValidations(n?: number): void;
  waitForJob(
    id: number,
    predicate: (job: CoordinatorJob) => boolean,
    timeoutMs?: number,
  ): Promise<CoordinatorJob>;
  waitForFinal(id: number, timeoutMs?: number): Promise<CoordinatorJob>;
  waitForRequest(predicate: (r: RequestRecord) => boolean, timeoutMs?: number): Promise<RequestRecord>;
  /** Highest number of jobs running at once, from the coordinator's own timeline. */
  maxConcurrentRunning(runnerToken?: string, from?: "running" | "assigned"): number;
}

function randomHex(bytes: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
}

function mediaType(header: string | null): string {
  return (header ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

function noContent(headers: Record<string, string> = {}): Response {
  return new Response(null, { status: 204, headers });
}

function forbidden(message = "403 Forbidden", headers: Record<string, string> = {}): Response {
  return json(403, { message }, headers);
}

function isInteger(value: unknown): boolean {
  if (typeof value === "number") return Number.isInteger(value);
  return typeof value === "string" && /^-?\d+$/.test(value);
}

type Params = { ok: true; params: Record<string, unknown> } | { ok: false; response: Response };

/** Grape's request parsing: query and body merged; JSON or form bodies; other media types 415. */
function parseParams(req: Request, url: URL, raw: Uint8Array): Params {
  const params: Record<string, unknown> = Object.fromEntries(url.searchParams);
  if (raw.length === 0) return { ok: true, params };
  const type = mediaType(req.headers.get("content-type"));
  const text = new TextDecoder().decode(raw);
  if (type === "" || type === "application/json") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return {
        ok: false,
        response: json(400, { error: "There was a problem with the JSON in your request" }),
      };
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return { ok: false, response: json(400, { error: "the JSON body must be an object" }) };
    }
    return { ok: true, params: { ...params, ...(parsed as Record<string, unknown>) } };
  }
  if (type === "application/x-www-form-urlencoded") {
    return { ok: true, params: { ...params, ...Object.fromEntries(new URLSearchParams(text)) } };
  }
  return {
    ok: false,
    response: json(415, { error: `The provided content-type '${type}' is not supported.` }),
  };
}

const DEFAULT_RETRY_AFTER_S = 1;

function faultResponse(options: FailOptions): Response {
  const headers: Record<string, string> = {};
  const throttled = options.status === 429 || options.status === 503;
  const retryAfter =
    options.retryAfterS === undefined && throttled ? DEFAULT_RETRY_AFTER_S : options.retryAfterS;
  if (retryAfter !== undefined && retryAfter !== null) headers["Retry-After"] = String(retryAfter);
  if (options.rateLimitResetTime) headers["RateLimit-ResetTime"] = options.rateLimitResetTime.toUTCString();
  if (options.jobStatus) headers["Job-Status"] = options.jobStatus;
  return json(options.status, { message: `${options.status} injected by the test coordinator` }, headers);
}

/**
 * Coordinators started with `audit` on, until tests/protocol-audit.ts has audited them after the
 * test that started them (it removes stopped ones, so this does not grow across a run).
 */
export const auditedCoordinators = new Set<Coordinator>();

export async function startCoordinator(opts: CoordinatorOptions = {}): Promise<Coordinator> {
  const longPollMs = opts.longPollMs ?? 50_000;
  const traceUpdateIntervalS = opts.traceUpdateIntervalS ?? 60;
  const twoPhaseCommit = opts.twoPhaseCommit ?? true;
  const ackTimeoutMs = opts.ackTimeoutMs ?? 120_000;

  const runners = new Map<string, RunnerRecord>();
  /** Registration token → whether registration with it is disallowed (410). */
  const registrationTokens = new Map<string, boolean>();
  const jobs = new Map<number, CoordinatorJob>();
  const requests: RequestRecord[] = [];
  const violations: string[] = [];
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const faults = { request: [] as Fault[], patch: [] as Fault[], update: [] as Fault[] };
  const scripts = new Map<string, ScriptedAnswer[]>();
  let finalizeDelays = opts.finalizeDelayPuts ?? 0;
  let traceValidationFailures = 0;
  let nextJobId = 1000;
  let nextRunnerId = 1;
  let nextPipelineId = 500;
  let seq = 0;
  let timelineSeq = 0;
  let stopping = false;

  function takeFault(list: Fault[]): FailOptions | undefined {
    const fault = list[0];
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) list.shift();
    return fault.options;
  }

  function addFault(list: Fault[], n: number, options: FailOptions | number): void {
    if (n > 0)
      list.push({ remaining: n, options: typeof options === "number" ? { status: options } : options });
  }

  function runnerFor(token: string, caller: string): RunnerRecord {
    // The admin API follows a runner through token resets; the Runner API never does.
    const runner = runners.get(token) ?? [...runners.values()].find((r) => r.previousTokens.includes(token));
    if (!runner)
      throw new Error(`${caller}: runner token "${token}" is not registered; call registerRunner first`);
    return runner;
  }

  function jobFor(id: number, caller: string): CoordinatorJob {
    const job = jobs.get(id);
    if (!job) throw new Error(`${caller}: no job ${id}; enqueue it with enqueueJob first`);
    return job;
  }

  function expiresFrom(lifetimeMs: number | undefined): Date | undefined {
    return lifetimeMs === undefined ? undefined : new Date(Date.now() + lifetimeMs);
  }

  /** Long polls Workhorse holds right now. */
  let heldNow = 0;

  function bumpQueue(runner: RunnerRecord): void {
    runner.queueValue = randomHex(16);
    for (const wake of [...runner.waiters]) wake();
  }

  function setStatus(job: CoordinatorJob, status: JobStatus): void {
    const now = Date.now();
    const order = ++timelineSeq;
    job.status = status;
    job.history.push({ status, at: now });
    if (status === "waiting_for_ack" || (status === "running" && job.assignedAt === undefined)) {
      job.assignedAt = now;
      job.timeline.assigned = order;
    }
    if (status === "running" && job.runningAt === undefined) {
      job.runningAt = now;
      job.timeline.running = order;
    }
    if (FINAL_STATUSES.has(status)) {
      job.finishedAt = now;
      job.timeline.finished = order;
      if (job.ackTimer) clearTimeout(job.ackTimer);
      const runner = runners.get(job.runnerToken);
      if (runner) runner.queue = runner.queue.filter((id) => id !== job.id);
    }
    events.emit("job", job);
  }

  function armAckTimer(job: CoordinatorJob): void {
    if (job.ackTimer) clearTimeout(job.ackTimer);
    job.ackTimer = setTimeout(() => {
      if (job.status !== "waiting_for_ack") return;
      // GitLab's RetryWaitingJobService: `build.drop!(:runner_provisioning_timeout)`, and the
      // auto-retry makes a new build (new id, new token); the old one is failed for good.
      job.failureReason = "runner_provisioning_timeout";
      setStatus(job, "failed");
      if (stopping || !runners.has(job.runnerToken)) return;
      const retry = coordinator.enqueueJob(job.runnerToken, job.spec);
      retry.retryOf = job.id;
      job.retriedAs = retry.id;
      events.emit("job", job);
    }, ackTimeoutMs);
    job.ackTimer.unref?.();
  }

  /** Drop a job the runner cannot run, as RegisterJobService does with `runner_unsupported`. */
  function dropUnsupported(job: CoordinatorJob, missing: string[]): void {
    job.failureReason = "runner_unsupported";
    job.unsupportedFeatures = missing;
    setStatus(job, "failed");
  }

  /** Workhorse: hold the request until the runner's queue value changes or the hold expires. */
  function waitForQueueChange(
    runner: RunnerRecord,
    signal: AbortSignal,
  ): Promise<"changed" | "timeout" | "gone"> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = (result: "changed" | "timeout" | "gone") => {
        if (timer) clearTimeout(timer);
        runner.waiters.delete(onChange);
        signal.removeEventListener("abort", onAbort);
        resolve(result);
      };
      const onChange = () => finish("changed");
      const onAbort = () => finish("gone");
      runner.waiters.add(onChange);
      signal.addEventListener("abort", onAbort);
      timer = setTimeout(() => finish("timeout"), longPollMs);
    });
  }

  // ---------------------------------------------------------------- POST jobs/request
  async function jobsRequest(req: Request, url: URL, raw: Uint8Array, rec: RequestRecord): Promise<Response> {
    const polling: Record<string, string> = longPollMs > 0 ? { "Gitlab-Ci-Builds-Polling": "yes" } : {};
    const withPolling = (res: Response): Response => {
      for (const [k, v] of Object.entries(polling)) res.headers.set(k, v);
      return res;
    };
    const fault = takeFault(faults.request);
    if (fault) return withPolling(faultResponse(fault));
    if (longPollMs > 0 && raw.length > MAX_REGISTER_BODY) {
      return withPolling(new Response("Request Entity Too Large", { status: 413 }));
    }
    const parsed = parseParams(req, url, raw);
    if (parsed.ok) rec.body = parsed.params;

    // Workhorse: long poll only for a JSON body carrying both token and last_update.
    if (longPollMs > 0 && parsed.ok && mediaType(req.headers.get("content-type")) === "application/json") {
      const token = parsed.params.token;
      const lastUpdate = parsed.params.last_update;
      const runner = typeof token === "string" ? runners.get(token) : undefined;
      if (typeof token === "string" && token !== "" && typeof lastUpdate === "string" && lastUpdate !== "") {
        // A revoked token's build-queue key is gone from Redis, so Workhorse never holds its
        // requests: each one reaches Rails and its 403.
        if (runner && !runner.forbidden && runner.queueValue === lastUpdate) {
          // Workhorse answers a seen change or a timeout with a bare 204 (no X-GitLab-Last-Update),
          // so the runner keeps its old value and its next request goes through to Rails.
          heldNow++;
          events.emit("longPollHeld", rec);
          const outcome = await waitForQueueChange(runner, req.signal).finally(() => heldNow--);
          events.emit("longPollReleased", rec, outcome);
          return withPolling(noContent());
        }
      }
    }
    return withPolling(railsJobsRequest(req, parsed));
  }

  function railsJobsRequest(req: Request, parsed: Params): Response {
    if (!parsed.ok) return parsed.response;
    const params = parsed.params;
    if (params.token === undefined) return json(400, { error: "token is missing" });
    if (typeof params.token !== "string") return json(400, { error: "token is invalid" });
    if (params.info !== undefined && (typeof params.info !== "object" || params.info === null)) {
      return json(400, { error: "info is invalid" });
    }
    const headerToken = req.headers.get("runner-token");
    if (headerToken !== null && headerToken !== params.token) {
      // Stricter than GitLab (which reads only the body token): gitlab-runner always sends both equal.
      violations.push("jobs/request: RUNNER-TOKEN header differs from the body token");
      return json(400, {
        error: "RUNNER-TOKEN header and body token differ (gitlab-runner always sends both equal)",
      });
    }
    const runner = runners.get(params.token);
    if (!runner || runner.forbidden) return forbidden();

    const systemId = typeof params.system_id === "string" ? params.system_id : LEGACY_SYSTEM_ID;
    if (params.system_id === undefined)
      violations.push("jobs/request: no system_id (gitlab-runner always sends one)");
    const info = (params.info ?? {}) as Record<string, unknown>;
    const features = (
      typeof info.features === "object" && info.features !== null ? info.features : {}
    ) as Record<string, unknown>;
    if (info.features === undefined) violations.push("jobs/request: info.features missing");
    runner.managers.set(systemId, features);

    if (runner.paused) return noContent({ "X-GitLab-Last-Update": runner.queueValue });
    if (params.last_update === runner.queueValue)
      return noContent({ "X-GitLab-Last-Update": runner.queueValue });

    const newUpdate = runner.queueValue;
    let job: CoordinatorJob | undefined;
    for (const id of [...runner.queue]) {
      const candidate = jobs.get(id);
      if (candidate?.status !== "pending") continue;
      const missing = missingRunnerFeatures(candidate.requiredFeatures, features);
      if (missing.length === 0) {
        job = candidate;
        break;
      }
      dropUnsupported(candidate, missing);
    }
    if (!job) return noContent({ "X-GitLab-Last-Update": newUpdate });

    runner.queue = runner.queue.filter((id) => id !== job.id);
    job.features = features;
    job.systemId = systemId;
    const session = params.session as { url?: unknown } | undefined;
    const runnerInfo = job.payload.runner_info as Record<string, unknown> | undefined;
    if (runnerInfo && typeof session?.url === "string") runnerInfo.runner_session_url = session.url;
    if (twoPhaseCommit && features.two_phase_job_commit === true) {
      setStatus(job, "waiting_for_ack");
      armAckTimer(job);
    } else {
      job.runnerManager = systemId;
      setStatus(job, "running");
    }
    return new Response(JSON.stringify(job.payload), {
      status: 201,
      headers: { "Content-Type": "application/json" },
    });
  }

  // ---------------------------------------------------------------- job authentication
  type Auth = { ok: true; job: CoordinatorJob } | { ok: false; response: Response };

  /** GitLab's authenticate_job!: 403 for an unknown job or a wrong token (never 404), then status. */
  function authenticateJob(id: number, token: string | undefined): Auth {
    const job = jobs.get(id);
    if (!job) return { ok: false, response: forbidden() };
    if (token !== job.token) return { ok: false, response: forbidden() };
    const processing =
      job.status === "running" || job.status === "canceling" || job.status === "waiting_for_ack";
    if (!processing) {
      return {
        ok: false,
        response: forbidden("403 Forbidden - Job is not processing on runner", {
          "Job-Status": job.wireStatus,
        }),
      };
    }
    return { ok: true, job };
  }
  const artifacts = artifactRoutes({ jobs, authenticateJob });

  // ---------------------------------------------------------------- PUT jobs/:id
  function updateJob(req: Request, url: URL, raw: Uint8Array, rec: RequestRecord, idText: string): Response {
    const fault = takeFault(faults.update);
    if (fault) return faultResponse(fault);
    const parsed = parseParams(req, url, raw);
    if (!parsed.ok) return parsed.response;
    const params = parsed.params;
    rec.body = params;
    if (!/^\d+$/.test(idText)) return json(400, { error: "id is invalid" });
    if (params.token === undefined) return json(400, { error: "token is missing" });
    const output = params.output as Record<string, unknown> | undefined;
    if (output !== undefined && (typeof output !== "object" || output === null)) {
      return json(400, { error: "output is invalid" });
    }
    if (params.exit_code !== undefined && !isInteger(params.exit_code)) {
      return json(400, { error: "exit_code is invalid" });
    }
    if (output?.bytesize !== undefined && !isInteger(output.bytesize)) {
      return json(400, { error: "output[bytesize] is invalid" });
    }
    const headerToken = req.headers.get("job-token");
    if (headerToken !== null && headerToken !== String(params.token)) {
      violations.push(`PUT jobs/${idText}: JOB-TOKEN header differs from the body token`);
    }
    const auth = authenticateJob(Number(idText), String(params.token));
    if (!auth.ok) return auth.response;
    const job = auth.job;
    const state = typeof params.state === "string" ? params.state : undefined;
    const answer = (status: number, extra: Record<string, string> = {}): Response => {
      job.puts.push({ body: params, state, status, at: Date.now() });
      events.emit("job", job);
      // lib/api/ci/runner.rb (GitLab 17+) sets Job-Status on every PUT answer it reaches after
      // authenticate_job!; older servers sent it only with the 403. We follow the current code.
      return new Response(String(status), {
        status,
        headers: { "Content-Type": "text/plain", "Job-Status": job.wireStatus, ...extra },
      });
    };

    // Two-phase commit (UpdateBuildStateService#handle_runner_ack_workflow).
    if (job.status === "waiting_for_ack") {
      if (state === "pending") {
        if (job.runnerManager !== undefined) return answer(409);
        job.keepalives += 1;
        armAckTimer(job);
        return answer(200);
      }
      if (state !== "running") return answer(400);
      if (job.systemId === undefined) return answer(400);
      job.runnerManager = job.systemId;
      job.acknowledgements += 1;
      if (job.ackTimer) clearTimeout(job.ackTimer);
      setStatus(job, "running");
      return answer(200);
    }

    const checksum = (output?.checksum ?? params.checksum) as string | undefined;
    const finishing = state !== "running" && typeof checksum === "string" && checksum !== "";
    if (finishing && finalizeDelays > 0) {
      // The "accept" path: live trace chunks still pending → 202 with a growing backoff.
      finalizeDelays -= 1;
      job.pendingStateAt ??= Date.now();
      const backoff = traceAcceptBackoffSeconds((Date.now() - job.pendingStateAt) / 1000);
      return answer(202, { "X-GitLab-Trace-Update-Interval": String(backoff) });
    }
    if ((state === "success" || state === "failed") && traceValidationFailures > 0) {
      traceValidationFailures -= 1;
      return answer(412);
    }

    switch (state) {
      case "running":
        return answer(200);
      case "success":
      case "failed": {
        const trace = job.trace;
        const expectedChecksum = crc32Checksum(trace);
        const bytesize = output?.bytesize === undefined ? undefined : Number(output.bytesize);
        const failureReason = typeof params.failure_reason === "string" ? params.failure_reason : undefined;
        const listed =
          (job.payload.features as { failure_reasons?: string[] } | undefined)?.failure_reasons ?? [];
        job.final = {
          state,
          failureReason,
          failureReasonListed: failureReason === undefined || listed.includes(failureReason),
          exitCode: params.exit_code === undefined ? undefined : Number(params.exit_code),
          checksum,
          bytesize,
          expectedChecksum,
          expectedBytesize: trace.length,
          checksumMatches: checksum === expectedChecksum,
          bytesizeMatches: bytesize === trace.length,
        };
        if (state === "failed") {
          // GitLab stores reasons it does not know as unknown_failure.
          job.failureReason =
            failureReason && GITLAB_FAILURE_REASONS.includes(failureReason)
              ? failureReason
              : "unknown_failure";
          job.exitCode = job.final.exitCode;
        }
        // A canceling job that the runner finishes becomes canceled, whatever it reports.
        setStatus(job, job.status === "canceling" ? "canceled" : state);
        return answer(200);
      }
      default:
        return answer(400);
    }
  }

  // ---------------------------------------------------------------- PATCH jobs/:id/trace
  function patchTrace(req: Request, url: URL, raw: Uint8Array, rec: RequestRecord, idText: string): Response {
    rec.body = { bytes: raw.length, text: new TextDecoder().decode(raw) };
    const fault = takeFault(faults.patch);
    if (fault) return faultResponse(fault);
    const type = mediaType(req.headers.get("content-type"));
    if (type !== "" && type !== "text/plain") {
      return json(415, { error: `The provided content-type '${type}' is not supported.` });
    }
    if (type === "")
      violations.push(`PATCH jobs/${idText}/trace: no Content-Type (gitlab-runner sends text/plain)`);
    if (!/^\d+$/.test(idText)) return json(400, { error: "id is invalid" });
    const token = url.searchParams.get("token") ?? req.headers.get("job-token") ?? undefined;
    const auth = authenticateJob(Number(idText), token);
    if (!auth.ok) return auth.response;
    const job = auth.job;
    const header = req.headers.get("content-range");
    if (header === null) return json(400, { message: "400 Missing header Content-Range" });
    const range = parseContentRangeStart(header);
    const sizeBefore = job.traceSize;
    const record = (status: number): void => {
      job.patches.push({
        start: range.ok ? range.start : -1,
        length: raw.length,
        sizeBefore,
        status,
        at: Date.now(),
      });
      events.emit("job", job);
    };
    if (!range.ok) {
      record(400);
      return json(400, { message: `400 Bad Request - ${range.reason}` });
    }
    if (job.status === "waiting_for_ack")
      violations.push(`PATCH jobs/${idText}/trace before the job was acknowledged`);
    const end = range.start + raw.length;
    if (opts.traceSizeLimitBytes !== undefined && end > opts.traceSizeLimitBytes) {
      job.failureReason = "trace_size_exceeded";
      setStatus(job, "failed");
      record(403);
      return forbidden();
    }
    // Trace#append writes only when the stream's length equals the offset (a gap, a rewind or an
    // overlap stores nothing); the API then `break`s with `error!('416 …', 416, Range)`, so a 416
    // carries Range alone. runner-api.md's older table says 416 comes with a gap only: GitLab's
    // code (`break current_length unless current_length == offset`) refuses any other start.
    if (range.start !== job.traceSize) {
      if (range.start > job.traceSize)
        violations.push(
          `PATCH jobs/${idText}/trace starts at ${range.start} beyond the ${job.traceSize} bytes GitLab holds: the runner skipped bytes`,
        );
      record(416);
      return json(416, { message: "416 Range Not Satisfiable" }, { Range: `0-${job.traceSize}` });
    }
    job.appendTrace(raw);
    record(202);
    return new Response(null, {
      status: 202,
      headers: {
        "Job-Status": job.wireStatus,
        Range: `0-${job.traceSize}`,
        "X-GitLab-Trace-Update-Interval": String(job.watched ? 3 : traceUpdateIntervalS),
      },
    });
  }

  // ---------------------------------------------------------------- runners/*
  type RunnerAuth =
    | { ok: true; runner: RunnerRecord; params: Record<string, unknown> }
    | { ok: false; response: Response };

  /** GitLab's authenticate_runner!: 400 without a token, 403 for an unknown or forbidden one. */
  function authenticateRunner(req: Request, url: URL, raw: Uint8Array, rec: RequestRecord): RunnerAuth {
    const parsed = parseParams(req, url, raw);
    if (!parsed.ok) return parsed;
    rec.body = parsed.params;
    const token = parsed.params.token;
    if (token === undefined) return { ok: false, response: json(400, { error: "token is missing" }) };
    const runner = typeof token === "string" ? runners.get(token) : undefined;
    if (!runner || runner.forbidden) return { ok: false, response: forbidden() };
    return { ok: true, runner, params: parsed.params };
  }
  function verifyRunner(req: Request, url: URL, raw: Uint8Array, rec: RequestRecord): Response {
    const auth = authenticateRunner(req, url, raw, rec);
    if (!auth.ok) return auth.response;
    const { runner, params } = auth;
    const systemId = typeof params.system_id === "string" ? params.system_id : LEGACY_SYSTEM_ID;
    const info = params.info as { features?: Record<string, unknown> } | undefined;
    runner.managers.set(systemId, info?.features ?? {});
    return json(200, {
      id: runner.id,
      token: runner.token,
      token_expires_at: runner.tokenExpiresAt?.toISOString() ?? null,
    });
  }

  function deleteManager(req: Request, url: URL, raw: Uint8Array, rec: RequestRecord): Response {
    const parsed = parseParams(req, url, raw);
    if (!parsed.ok) return parsed.response;
    rec.body = parsed.params;
    const { token, system_id: systemId } = parsed.params;
    if (token === undefined) return json(400, { error: "token is missing" });
    if (systemId === undefined) return json(400, { error: "system_id is missing" });
    const runner = typeof token === "string" ? runners.get(token) : undefined;
    if (!runner || runner.forbidden) return forbidden();
    if (!runner.managers.delete(String(systemId)))
      return json(404, { message: "404 Runner manager not found" });
    return noContent();
  }

  function deleteRunner(req: Request, url: URL, raw: Uint8Array, rec: RequestRecord): Response {
    const auth = authenticateRunner(req, url, raw, rec);
    if (!auth.ok) return auth.response;
    const { runner } = auth;
    runners.delete(runner.token);
    bumpQueue(runner);
    return noContent();
  }

  // lib/api/ci/runner.rb `post '/'` (RegisterRunnerService): a registration token creates a
  // runner (token prefixed glrtr-, as GitLab 17+ marks registration-token runners) → 201
  // RunnerRegistrationDetails {id, token, token_expires_at}; an unknown token (a glrt- one too) →
  // 403; registration tokens disallowed → 410; Grape's validation of access_level,
  // maximum_timeout and the mutually exclusive pairs → 400.
  function registerWithRegistrationToken(
    req: Request,
    url: URL,
    raw: Uint8Array,
    rec: RequestRecord,
  ): Response {
    const parsed = parseParams(req, url, raw);
    if (!parsed.ok) return parsed.response;
    rec.body = parsed.params;
    const p = parsed.params;
    if (p.token === undefined) return json(400, { error: "token is missing" });
    if (p.access_level !== undefined && !["not_protected", "ref_protected"].includes(String(p.access_level)))
      return json(400, { error: "access_level does not have a valid value" });
    if (p.maximum_timeout !== undefined && !isInteger(p.maximum_timeout))
      return json(400, { error: "maximum_timeout is invalid" });
    if (p.active !== undefined && p.paused !== undefined)
      return json(400, { error: "active, paused are mutually exclusive" });
    const gone = typeof p.token === "string" ? registrationTokens.get(p.token) : undefined;
    if (gone === undefined) return forbidden();
    if (gone) return json(410, { message: "410 Gone - runner registration disallowed" });
    const token = `glrtr-${randomHex(12)}`;
    coordinator.registerRunner(token, { paused: p.paused === true });
    return json(201, { id: runners.get(token)!.id, token, token_expires_at: null });
  }

  // lib/api/ci/runner.rb `post '/reset_authentication_token'`: authenticate_runner! (403 when the
  // token is unknown), then reset_token!: the old token stops working at once; 201 (Grape's POST)
  // with ResetTokenResult {token, token_expires_at}. Jobs already handed out keep their own tokens.
  function resetRunnerToken(req: Request, url: URL, raw: Uint8Array, rec: RequestRecord): Response {
    const auth = authenticateRunner(req, url, raw, rec);
    if (!auth.ok) return auth.response;
    const { runner } = auth;
    const fresh = `glrt-${randomHex(12)}`;
    runners.delete(runner.token);
    bumpQueue(runner);
    runner.previousTokens.push(runner.token);
    runner.token = fresh;
    runner.tokenExpiresAt = expiresFrom(runner.tokenLifetimeMs);
    runners.set(fresh, runner);
    return json(201, { token: fresh, token_expires_at: runner.tokenExpiresAt?.toISOString() ?? null });
  }

  function routeKey(method: string, path: string): string {
    return `${method} ${path.replace(/^\/api\/v4\//, "")}`;
  }

  async function scriptedOrRoute(
    req: Request,
    url: URL,
    raw: Uint8Array,
    rec: RequestRecord,
  ): Promise<Response> {
    const answer = scripts.get(routeKey(req.method, url.pathname))?.shift();
    if (!answer) return route(req, url, raw, rec);
    const headers = new Headers(answer.headers);
    if (answer.applyTrace) {
      const real = await route(req, url, raw, rec);
      for (const [k, v] of real.headers) if (!headers.has(k)) headers.set(k, v);
    }
    return new Response(answer.body ?? null, { status: answer.status, headers });
  }

  async function route(req: Request, url: URL, raw: Uint8Array, rec: RequestRecord): Promise<Response> {
    const path = url.pathname;
    const method = req.method;
    if (method === "POST" && path === "/api/v4/jobs/request") return jobsRequest(req, url, raw, rec);
    const artifactAnswer = await artifacts.handle(req, url, raw, rec);
    if (artifactAnswer) return artifactAnswer;
    const put = /^\/api\/v4\/jobs\/([^/]+)$/.exec(path);
    if (put?.[1] !== undefined && method === "PUT") return updateJob(req, url, raw, rec, put[1]);
    const trace = /^\/api\/v4\/jobs\/([^/]+)\/trace$/.exec(path);
    if (trace?.[1] !== undefined && method === "PATCH") return patchTrace(req, url, raw, rec, trace[1]);
    if (method === "POST" && path === "/api/v4/runners/verify") return verifyRunner(req, url, raw, rec);
    if (method === "DELETE" && path === "/api/v4/runners/managers") return deleteManager(req, url, raw, rec);
    if (method === "DELETE" && path === "/api/v4/runners") return deleteRunner(req, url, raw, rec);
    if (method === "POST" && path === "/api/v4/runners")
      return registerWithRegistrationToken(req, url, raw, rec);
    if (method === "POST" && path === "/api/v4/runners/reset_authentication_token")
      return resetRunnerToken(req, url, raw, rec);
    return json(404, { error: "404 Not Found" });
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: opts.port ?? 0,
    // Bun drops requests idle for 10 s by default, which would cut 50 s long polls.
    idleTimeout: 255,
    fetch: async (req) => {
      const url = new URL(req.url);
      if (opts.extraRoutes) {
        const extra = await opts.extraRoutes(req, url);
        if (extra) return extra;
      }
      const raw = new Uint8Array(await req.arrayBuffer());
      const rec: RequestRecord = {
        seq: ++seq,
        method: req.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        raw,
        headers: Object.fromEntries(req.headers),
        body: undefined,
        status: 0,
        responseHeaders: {},
        receivedAt: Date.now(),
        answeredAt: 0,
      };
      requests.push(rec);
      events.emit("received", rec);
      const res = await scriptedOrRoute(req, url, raw, rec);
      rec.status = res.status;
      rec.responseHeaders = Object.fromEntries(res.headers);
      rec.answeredAt = Date.now();
      events.emit("request", rec);
      opts.onRequest?.(rec);
      return res;
    },
  });

  const coordinator: Coordinator = {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    jobs,
    violations,
    events,
    artifacts: artifacts.store,
    get stopped() {
      return stopping;
    },

    async stop() {
      if (stopping) return;
      stopping = true;
      for (const runner of runners.values()) for (const wake of [...runner.waiters]) wake();
      for (const job of jobs.values()) if (job.ackTimer) clearTimeout(job.ackTimer);
      await server.stop(true);
    },

    registerRunner(token, registerOpts = {}) {
      if (runners.has(token))
        throw new Error(`registerRunner: runner token "${token}" is already registered`);
      runners.set(token, {
        token,
        previousTokens: [],
        tokenLifetimeMs: registerOpts.tokenLifetimeMs,
        tokenExpiresAt: expiresFrom(registerOpts.tokenLifetimeMs),
        id: nextRunnerId++,
        paused: registerOpts.paused ?? false,
        forbidden: false,
        queueValue: randomHex(16),
        waiters: new Set(),
        queue: [],
        managers: new Map(),
      });
    },

    acceptRegistrationToken(token, tokenOpts = {}) {
      registrationTokens.set(token, tokenOpts.gone ?? false);
    },

    currentToken(anyToken) {
      return runnerFor(anyToken, "currentToken").token;
    },

    setRunnerPaused(token, paused) {
      runnerFor(token, "setRunnerPaused").paused = paused;
    },

    setRunnerForbidden(token, isForbidden = true) {
      const runner = runnerFor(token, "setRunnerForbidden");
      runner.forbidden = isForbidden;
      // Wake held long polls so the runner hears the 403 now rather than after the hold.
      bumpQueue(runner);
    },

    queueValue(token) {
      return runnerFor(token, "queueValue").queueValue;
    },

    whenLongPollHeld() {
      if (heldNow > 0) return Promise.resolve();
      return new Promise((resolve) => events.once("longPollHeld", () => resolve()));
    },

    managers(token) {
      return runnerFor(token, "managers").managers;
    },

    enqueueJob(runnerToken, spec = {}) {
      const runner = runnerFor(runnerToken, "enqueueJob");
      const id = nextJobId++;
      const token = `glcbt-${randomHex(12)}`;
      const payload = buildJobPayload(spec, {
        id,
        token,
        serverUrl: coordinator.url,
        pipelineId: nextPipelineId++,
        runnerSessionUrl: null,
        queueSize: runner.queue.length,
      });
      const job = new CoordinatorJob(id, token, runner.token, spec, payload);
      job.requiredFeatures = requiredRunnerFeatures(spec, payload);
      job.history.push({ status: "pending", at: job.enqueuedAt });
      jobs.set(id, job);
      runner.queue.push(id);
      bumpQueue(runner);
      events.emit("job", job);
      return job;
    },

    runJob(runnerToken, spec = {}, systemId = "s_000000000000") {
      const job = coordinator.enqueueJob(runnerToken, spec);
      const runner = runnerFor(runnerToken, "runJob");
      runner.queue = runner.queue.filter((id) => id !== job.id);
      job.systemId = systemId;
      job.runnerManager = systemId;
      setStatus(job, "running");
      return job;
    },

    script(route, ...answers) {
      scripts.set(route, [...(scripts.get(route) ?? []), ...answers]);
    },

    calls(route) {
      return requests.filter((r) => r.status !== 0 && routeKey(r.method, r.path) === route);
    },

    cancel(jobId) {
      const job = jobFor(jobId, "cancel");
      if (job.status === "pending" || job.status === "waiting_for_ack") setStatus(job, "canceled");
      else if (job.status === "running") {
        // Without cancel_gracefully GitLab cancels hard: the job is canceled at once.
        setStatus(job, job.features.cancel_gracefully === true ? "canceling" : "canceled");
      }
      return job.status;
    },

    abort(jobId) {
      const job = jobFor(jobId, "abort");
      if (!job.isFinal) setStatus(job, "canceled");
      return job.status;
    },

    setTraceWatched(jobId, watched) {
      jobFor(jobId, "setTraceWatched").watched = watched;
    },

    failNextRequests(n, options) {
      addFault(faults.request, n, options);
    },
    failNextPatches(n, options) {
      addFault(faults.patch, n, options);
    },
    failNextUpdates(n, options) {
      addFault(faults.update, n, options);
    },
    delayNextFinalizations(n) {
      finalizeDelays = n;
    },
    failNextTraceValidations(n = 1) {
      traceValidationFailures = n;
    },

    waitForJob(id, predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (job: CoordinatorJob): boolean => {
          if (job.id !== id || !predicate(job)) return false;
          clearTimeout(timer);
          events.off("job", onJob);
          resolve(job);
          return true;
        };
        const onJob = (job: CoordinatorJob) => void check(job);
        const timer = setTimeout(() => {
          events.off("job", onJob);
          const job = jobs.get(id);
          reject(
            new Error(
              `job ${id} did not reach the expected state within ${timeoutMs} ms (status: ${job?.status ?? "unknown job"})`,
            ),
          );
        }, timeoutMs);
        events.on("job", onJob);
        const current = jobs.get(id);
        if (current) check(current);
      });
    },

    waitForFinal(id, timeoutMs = 10_000) {
      return coordinator.waitForJob(id, (job) => job.isFinal, timeoutMs);
    },

    waitForRequest(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const seen = requests.find((r) => r.status !== 0 && predicate(r));
        if (seen) return resolve(seen);
        const onRequest = (r: RequestRecord) => {
          if (!predicate(r)) return;
          clearTimeout(timer);
          events.off("request", onRequest);
          resolve(r);
        };
        const timer = setTimeout(() => {
          events.off("request", onRequest);
          reject(new Error(`no matching request was answered within ${timeoutMs} ms`));
        }, timeoutMs);
        events.on("request", onRequest);
      });
    },

    maxConcurrentRunning(runnerToken, from = "running") {
      const points: { at: number; delta: number }[] = [];
      for (const job of jobs.values()) {
        if (runnerToken !== undefined && job.runnerToken !== runnerToken) continue;
        const start = from === "running" ? job.timeline.running : job.timeline.assigned;
        if (start === undefined) continue;
        points.push({ at: start, delta: 1 });
        if (job.timeline.finished !== undefined) points.push({ at: job.timeline.finished, delta: -1 });
      }
      points.sort((a, b) => a.at - b.at);
      let current = 0;
      let max = 0;
      for (const p of points) {
        current += p.delta;
        max = Math.max(max, current);
      }
      return max;
    },
  };
  if (opts.audit ?? true) auditedCoordinators.add(coordinator);
  return coordinator;
}
