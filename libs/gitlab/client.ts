// GitLab's Runner API, endpoint by endpoint, as GitLab Runner speaks it (reference (a)). Every
// answer becomes a small discriminated result; callers never see HTTP, and never see a throw
// for something GitLab said. Tokens are registered with the logger's redactor on first sight.
import { z } from "zod";
import { createLogger, type Logger, secrets } from "../log/logger.ts";
import {
  GitLabHttp,
  type GitLabResponse,
  GitLabTransportError,
  GitLabUrlError,
  type TlsFiles,
} from "./http.ts";
import {
  decidePatchResult,
  decideUpdateResult,
  formatContentRange,
  isCancelRequested,
  type PatchResult,
  parseUpdateInterval,
  rangeEndOffset,
  type UpdateResult,
} from "./job-responses.ts";
import type { RetryPolicy } from "./retry.ts";
import type { RunnerInfo } from "./runner-info.ts";

export type { TlsFiles } from "./http.ts";
export { parseUpdateInterval } from "./job-responses.ts";

export interface GitLabClientOptions {
  /** The runner entry's `url`, as configured. */
  url: string;
  /** runmesh's version, for the User-Agent. */
  version: string;
  revision?: string;
  tls?: TlsFiles;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  /** The runner entry's name, for log lines. */
  runner?: string;
  userAgent?: string;
}

/** Job timeout when GitLab sends none (or ≤ 0): 2 h, as GitLab Runner. */
export const DEFAULT_JOB_TIMEOUT_S = 7200;

export type RequestJobResult =
  | {
      kind: "job";
      status: 201;
      /** The payload exactly as received: the poller forwards it unparsed. */
      body: string;
      id: number;
      jobToken: string;
      timeoutS: number;
      lastUpdate?: string;
      retriableSeen: boolean;
      /** Workhorse answered with `Gitlab-Ci-Builds-Polling: yes`: long polling is on. */
      longPolling: boolean;
    }
  | {
      kind: "none";
      /**
       * no_content: 204. unavailable: 503 after retries. forbidden: 403. failed: any other
       * status, or a 201 that could not be read. transport_error: no HTTP answer.
       */
      reason: "no_content" | "unavailable" | "forbidden" | "failed" | "transport_error";
      status?: number;
      /** False only for 403 and transport errors (GitLab Runner's health accounting). */
      healthy: boolean;
      lastUpdate?: string;
      retriableSeen: boolean;
      /** Workhorse answered with `Gitlab-Ci-Builds-Polling: yes`: long polling is on. */
      longPolling: boolean;
    };

export interface JobUpdate {
  info: RunnerInfo;
  state: "pending" | "running" | "success" | "failed";
  failureReason?: string;
  exitCode?: number;
  output?: { checksum?: string; bytesize?: number };
}

export interface UpdateJobResult {
  result: UpdateResult;
  /** Job-Status: canceling (graceful cancel), independent of `result`. */
  cancelRequested: boolean;
  updateIntervalS?: number;
  status?: number;
}

export interface PatchTraceResult {
  result: PatchResult;
  /** Where the next patch starts: start+len on success, GitLab's size on 416, else `start`. */
  sentOffset: number;
  cancelRequested: boolean;
  updateIntervalS?: number;
  status?: number;
}

export type VerifyResult =
  | { result: "valid"; status: 200; id?: number; tokenExpiresAt?: string }
  /** 403: the runner is removed or its token is not valid. */
  | { result: "invalid"; status: 403 }
  /** Anything else: logged, but not a reason to drop the runner. */
  | { result: "unknown"; status?: number };

/** unregister (`DELETE runners`, `DELETE runners/managers`): 204 ok, 403 forbidden, else failed. */
export type UnregisterResult =
  | { result: "ok"; status: 204 }
  | { result: "forbidden"; status: 403 }
  | { result: "failed"; status?: number; message?: string };

export type ResetTokenResult =
  | { result: "ok"; status: 201; token: string; tokenExpiresAt?: string; tokenObtainedAt: Date }
  /** 403: "failed (check used token)". */
  | { result: "forbidden"; status: 403 }
  | { result: "failed"; status?: number; message?: string };

/** `POST runners` with a registration token: GitLab Runner's RegisterRunnerParameters. */
export interface RegisterParameters {
  description?: string;
  maintenanceNote?: string;
  /** Comma-separated, as GitLab Runner sends it. */
  tagList?: string;
  runUntagged: boolean;
  locked: boolean;
  accessLevel?: string;
  maximumTimeout?: number;
  paused: boolean;
}

export type RegisterResult =
  | { result: "ok"; status: 201; id: number; token: string; tokenExpiresAt?: string }
  /** 403: "forbidden (check registration token)". */
  | { result: "forbidden"; status: 403 }
  | { result: "failed"; status?: number; message?: string };

const registerBody = z.object({
  id: z.number().int(),
  token: z.string().min(1),
  token_expires_at: z.string().nullish(),
});

const resetTokenBody = z.object({
  token: z.string().min(1),
  token_expires_at: z.string().nullish(),
});

const jobHead = z.object({
  id: z.number().int().positive(),
  token: z.string().min(1),
  runner_info: z.object({ timeout: z.number().nullish() }).nullish(),
});

const verifyBody = z.object({
  id: z.number().int().optional(),
  token_expires_at: z.string().nullish(),
});

export class GitLabClient {
  private readonly http: GitLabHttp;
  private readonly log: Logger;

  constructor(readonly options: GitLabClientOptions) {
    this.log = options.logger ?? createLogger({ service: "gitlab-client" });
    this.http = new GitLabHttp({ ...options, logger: this.log });
  }

  /** `POST jobs/request`: asks for one job; long-polls when `lastUpdate` is given. */
  async requestJob(opts: {
    token: string;
    systemId: string;
    info: RunnerInfo;
    lastUpdate?: string;
    signal?: AbortSignal;
  }): Promise<RequestJobResult> {
    secrets.add(opts.token);
    const body = JSON.stringify({
      info: opts.info,
      token: opts.token,
      system_id: opts.systemId,
      ...(opts.lastUpdate ? { last_update: opts.lastUpdate } : {}),
    });
    let res: GitLabResponse;
    try {
      res = await this.http.send({
        method: "POST",
        path: "jobs/request",
        headers: {
          "RUNNER-TOKEN": opts.token,
          "Content-Type": "application/json",
          Accept: "application/json",
        },
        body,
        signal: opts.signal,
      });
    } catch (err) {
      this.log.warn({ err: describe(err) }, "jobs/request got no answer from GitLab");
      return {
        kind: "none",
        reason: "transport_error",
        healthy: false,
        retriableSeen: false,
        longPolling: false,
      };
    }
    const lastUpdate = res.headers.get("X-GitLab-Last-Update") || undefined;
    const longPolling = res.headers.get("Gitlab-Ci-Builds-Polling") === "yes";
    const none = (
      reason: "no_content" | "unavailable" | "forbidden" | "failed",
      healthy = true,
    ): RequestJobResult => ({
      kind: "none",
      reason,
      status: res.status,
      healthy,
      lastUpdate,
      retriableSeen: res.retriableSeen,
      longPolling,
    });
    switch (res.status) {
      case 201:
        break;
      case 204:
        return none("no_content");
      case 403:
        return none("forbidden", false);
      case 503:
        return none("unavailable");
      default:
        return none("failed");
    }
    const head = readJobHead(res);
    if (!head.ok) {
      // GitLab has already assigned this job to us; it will sit until GitLab's stuck-job
      // cleanup. Nothing can be done from here but to say so loudly.
      this.log.error(
        { status: 201, job: head.id, contentType: res.headers.get("Content-Type"), requestId: res.requestId },
        `GitLab assigned a job but its payload is unreadable (${head.why}); the job is dropped and will stay pending at GitLab until its stuck-job cleanup`,
      );
      return none("failed");
    }
    const timeout = head.timeout;
    return {
      kind: "job",
      status: 201,
      body: res.text,
      id: head.id,
      jobToken: head.token,
      timeoutS: typeof timeout === "number" && timeout > 0 ? timeout : DEFAULT_JOB_TIMEOUT_S,
      lastUpdate,
      retriableSeen: res.retriableSeen,
      longPolling,
    };
  }

  /** `PUT jobs/:id`: job state, keep-alive or final update. */
  async updateJob(
    jobId: number,
    jobToken: string,
    update: JobUpdate,
    signal?: AbortSignal,
  ): Promise<UpdateJobResult> {
    using _jobToken = secrets.hold(jobToken);
    const checksum = update.output?.checksum || undefined;
    const bytesize = update.output?.bytesize || undefined;
    const body = JSON.stringify({
      info: update.info,
      token: jobToken,
      state: update.state,
      ...(update.failureReason ? { failure_reason: update.failureReason } : {}),
      // Deprecated duplicate of output.checksum, still read by older servers.
      ...(checksum ? { checksum } : {}),
      output: { ...(checksum ? { checksum } : {}), ...(bytesize ? { bytesize } : {}) },
      ...(update.exitCode ? { exit_code: update.exitCode } : {}),
    });
    let res: GitLabResponse;
    try {
      res = await this.http.send({
        method: "PUT",
        path: `jobs/${jobId}`,
        headers: { "JOB-TOKEN": jobToken, "Content-Type": "application/json" },
        body,
        signal,
      });
    } catch (err) {
      // A client that cannot be built (bad URL) will never work: abort, as GitLab Runner does.
      const result: UpdateResult = err instanceof GitLabUrlError ? "abort" : "failed";
      this.log.warn(
        { job: jobId, state: update.state, err: describe(err), result },
        "job update got no answer",
      );
      return { result, cancelRequested: false };
    }
    const result = decideUpdateResult(res.status, res.headers);
    if (result !== "succeeded")
      this.log.info(
        {
          job: jobId,
          state: update.state,
          status: res.status,
          jobStatus: res.headers.get("Job-Status"),
          result,
        },
        "job update not plainly accepted",
      );
    return {
      result,
      cancelRequested: isCancelRequested(res.headers),
      updateIntervalS: parseUpdateInterval(res.headers.get("X-GitLab-Trace-Update-Interval")),
      status: res.status,
    };
  }

  /** `PATCH jobs/:id/trace`: appends `bytes` at `start`. Empty patches are never sent. */
  async patchTrace(
    jobId: number,
    jobToken: string,
    start: number,
    bytes: Uint8Array,
    opts: { debugTrace: boolean },
    signal?: AbortSignal,
  ): Promise<PatchTraceResult> {
    using _jobToken = secrets.hold(jobToken);
    if (bytes.length === 0) return { result: "succeeded", sentOffset: start, cancelRequested: false };
    let res: GitLabResponse;
    try {
      res = await this.http.send({
        method: "PATCH",
        path: `jobs/${jobId}/trace`,
        query: { debug_trace: String(opts.debugTrace) },
        headers: {
          "JOB-TOKEN": jobToken,
          "Content-Type": "text/plain",
          "Content-Range": formatContentRange(start, bytes.length),
        },
        body: bytes,
        signal,
      });
    } catch (err) {
      const result: PatchResult = err instanceof GitLabUrlError ? "abort" : "failed";
      this.log.warn({ job: jobId, offset: start, err: describe(err), result }, "trace patch got no answer");
      return { result, sentOffset: start, cancelRequested: false };
    }
    const result = decidePatchResult(res.status, res.headers);
    const sentOffset =
      result === "succeeded"
        ? start + bytes.length
        : result === "range_mismatch"
          ? rangeEndOffset(res.headers.get("Range"))
          : start;
    if (result !== "succeeded")
      this.log.info(
        {
          job: jobId,
          offset: start,
          status: res.status,
          jobStatus: res.headers.get("Job-Status"),
          result,
          sentOffset,
        },
        "trace patch not accepted",
      );
    return {
      result,
      sentOffset,
      cancelRequested: isCancelRequested(res.headers),
      updateIntervalS: parseUpdateInterval(res.headers.get("X-GitLab-Trace-Update-Interval")),
      status: res.status,
    };
  }

  /** `POST runners/verify`: is this runner (token) still known to GitLab? */
  async verifyRunner(opts: {
    token: string;
    systemId: string;
    info: RunnerInfo;
    signal?: AbortSignal;
  }): Promise<VerifyResult> {
    secrets.add(opts.token);
    let res: GitLabResponse;
    try {
      res = await this.http.send({
        method: "POST",
        path: "runners/verify",
        headers: {
          "RUNNER-TOKEN": opts.token,
          "Content-Type": "application/json",
          Accept: "application/json",
        },
        // Features go along so GitLab learns cancel_gracefully & co. before the first job.
        body: JSON.stringify({ token: opts.token, system_id: opts.systemId, info: opts.info }),
        signal: opts.signal,
      });
    } catch (err) {
      this.log.warn({ err: describe(err) }, "runner verification got no answer from GitLab");
      return { result: "unknown" };
    }
    if (res.status === 403) return { result: "invalid", status: 403 };
    if (res.status !== 200) {
      this.log.warn({ status: res.status }, "runner verification failed; the runner is kept");
      return { result: "unknown", status: res.status };
    }
    // Legacy servers answer a plain-text "200": still valid, just without details.
    const parsed = verifyBody.safeParse(safeJson(res.text));
    return parsed.success
      ? {
          result: "valid",
          status: 200,
          id: parsed.data.id,
          tokenExpiresAt: parsed.data.token_expires_at ?? undefined,
        }
      : { result: "valid", status: 200 };
  }

  /**
   * `DELETE runners` (a whole runner, legacy tokens) or, with `systemId`, `DELETE
   * runners/managers` (this manager only, as GitLab Runner does for `glrt-` tokens).
   */
  async unregister(opts: { token: string; systemId?: string }): Promise<UnregisterResult> {
    secrets.add(opts.token);
    const manager = opts.systemId !== undefined;
    const body = manager ? { token: opts.token, system_id: opts.systemId } : { token: opts.token };
    let res: GitLabResponse;
    try {
      res = await this.http.send({
        method: "DELETE",
        path: manager ? "runners/managers" : "runners",
        headers: { "RUNNER-TOKEN": opts.token, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (err) {
      return { result: "failed", message: describe(err) };
    }
    if (res.status === 204) return { result: "ok", status: 204 };
    if (res.status === 403) return { result: "forbidden", status: 403 };
    return { result: "failed", status: res.status, message: res.text.slice(0, 200) };
  }

  /** `POST runners` (legacy registration token, deprecated in GitLab 15.6): a new runner. */
  async registerRunner(opts: {
    registrationToken: string;
    parameters: RegisterParameters;
    info: RunnerInfo;
  }): Promise<RegisterResult> {
    secrets.add(opts.registrationToken);
    const p = opts.parameters;
    // GitLab Runner's JSON: omitempty strings and timeout left out, the booleans always sent.
    const body = {
      description: p.description || undefined,
      maintenance_note: p.maintenanceNote || undefined,
      tag_list: p.tagList || undefined,
      run_untagged: p.runUntagged,
      locked: p.locked,
      access_level: p.accessLevel || undefined,
      maximum_timeout: p.maximumTimeout || undefined,
      paused: p.paused,
      info: opts.info,
      token: opts.registrationToken,
    };
    let res: GitLabResponse;
    try {
      res = await this.http.send({
        method: "POST",
        path: "runners",
        headers: {
          "RUNNER-TOKEN": opts.registrationToken,
          "Content-Type": "application/json",
          Accept: "application/json",
        },
        body: JSON.stringify(body),
      });
    } catch (err) {
      return { result: "failed", message: describe(err) };
    }
    if (res.status === 403) return { result: "forbidden", status: 403 };
    if (res.status !== 201) return { result: "failed", status: res.status, message: res.text.slice(0, 200) };
    const parsed = registerBody.safeParse(safeJson(res.text));
    if (!parsed.success)
      return { result: "failed", status: 201, message: "the 201 body lacks an id or token" };
    secrets.add(parsed.data.token);
    return {
      result: "ok",
      status: 201,
      id: parsed.data.id,
      token: parsed.data.token,
      tokenExpiresAt: parsed.data.token_expires_at ?? undefined,
    };
  }

  /** `POST runners/reset_authentication_token`: a new token for this one (no RUNNER-TOKEN header). */
  async resetToken(opts: { token: string; now?: () => Date }): Promise<ResetTokenResult> {
    secrets.add(opts.token);
    let res: GitLabResponse;
    try {
      res = await this.http.send({
        method: "POST",
        path: "runners/reset_authentication_token",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ token: opts.token }),
      });
    } catch (err) {
      return { result: "failed", message: describe(err) };
    }
    if (res.status === 403) return { result: "forbidden", status: 403 };
    if (res.status !== 201) return { result: "failed", status: res.status, message: res.text.slice(0, 200) };
    const parsed = resetTokenBody.safeParse(safeJson(res.text));
    if (!parsed.success) return { result: "failed", status: 201, message: "the 201 body lacks a token" };
    secrets.add(parsed.data.token);
    return {
      result: "ok",
      status: 201,
      token: parsed.data.token,
      tokenExpiresAt: parsed.data.token_expires_at ?? undefined,
      tokenObtainedAt: (opts.now ?? (() => new Date()))(),
    };
  }
}

type JobHead =
  | { ok: true; id: number; token: string; timeout?: number | null }
  | { ok: false; id?: number; why: string };

function readJobHead(res: GitLabResponse): JobHead {
  const contentType = res.headers.get("Content-Type") ?? "";
  const mediaType = contentType.split(";")[0]?.trim().toLowerCase();
  if (mediaType !== "application/json")
    return { ok: false, why: `Content-Type is "${contentType}", not application/json` };
  const json = safeJson(res.text);
  if (json === undefined) return { ok: false, why: "body is not JSON" };
  const parsed = jobHead.safeParse(json);
  if (!parsed.success) {
    const id = (json as { id?: unknown } | null)?.id;
    return {
      ok: false,
      id: typeof id === "number" ? id : undefined,
      why: `body lacks a usable id or token: ${z.prettifyError(parsed.error).replaceAll("\n", " ")}`,
    };
  }
  return {
    ok: true,
    id: parsed.data.id,
    token: parsed.data.token,
    timeout: parsed.data.runner_info?.timeout,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describe(err: unknown): string {
  if (err instanceof GitLabTransportError || err instanceof GitLabUrlError) return err.message;
  return err instanceof Error ? err.message : String(err);
}
