// The one HTTP transport to GitLab's Runner API: URL normalisation, the headers every request
// carries, TLS files, timeouts and transport-level retry. Endpoint semantics live in client.ts.
import type { Logger } from "../log/logger.ts";
import {
  DEFAULT_RETRY_POLICY,
  isRetriableStatus,
  type RetryPolicy,
  retryDelay,
  sleepUnlessAborted,
} from "./retry.ts";

/** TLS files for talking to GitLab (paths; read when a connection is made). */
export interface TlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** The configured GitLab URL cannot be used; nothing will work until the config is fixed. */
export class GitLabUrlError extends Error {
  override name = "GitLabUrlError";
}

/** The request did not get an HTTP answer (connection refused, TLS, timeout, aborted). */
export class GitLabTransportError extends Error {
  override name = "GitLabTransportError";
  constructor(
    message: string,
    readonly aborted: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * `<url>/api/v4/` from a configured URL, as GitLab Runner derives it: trailing `/` and a
 * trailing `/ci` are dropped (old configs say `https://gitlab.example.com/ci`).
 */
export function apiBaseUrl(configured: string): string {
  let parsed: URL;
  try {
    parsed = new URL(configured.trim());
  } catch {
    throw new GitLabUrlError(`GitLab URL "${configured}" is not a URL: use e.g. https://gitlab.example.com`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    throw new GitLabUrlError(
      `GitLab URL "${configured}" uses ${parsed.protocol.replace(/:$/, "")}: only http and https are supported`,
    );
  parsed.search = "";
  parsed.hash = "";
  let path = parsed.pathname.replace(/\/+$/, "");
  if (path.endsWith("/ci")) path = path.slice(0, -3).replace(/\/+$/, "");
  parsed.pathname = `${path}/api/v4/`;
  return parsed.toString();
}

/** A fresh correlation id: a UUID without dashes (32 lowercase hex chars), as GitLab Runner sends. */
export function newRequestId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

/** `runmesh <version> (<revision>; bun <version>; <os>/<arch>)`, shaped like GitLab Runner's. */
export function defaultUserAgent(version: string, revision = "dev"): string {
  const os = process.platform === "win32" ? "windows" : process.platform;
  const arch = process.arch === "x64" ? "amd64" : process.arch === "ia32" ? "386" : process.arch;
  return `runmesh ${version} (${revision}; bun ${Bun.version}; ${os}/${arch})`;
}

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface GitLabRequest {
  method: HttpMethod;
  /** Relative to `<url>/api/v4/`, e.g. `jobs/request`. */
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** Re-sent byte-identical on every attempt. */
  body?: string | Uint8Array;
  signal?: AbortSignal;
}

export interface GitLabResponse {
  status: number;
  headers: Headers;
  /** The body as received (decoded as UTF-8). */
  text: string;
  /** The server's X-Request-Id when it sent one, else ours. */
  requestId: string;
  attempts: number;
  /** Some attempt got a retriable status (adaptive request concurrency halves on this). */
  retriableSeen: boolean;
}

export interface GitLabHttpOptions {
  url: string;
  version: string;
  revision?: string;
  tls?: TlsFiles;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  /** The runner entry's name, for log lines (a client may serve several: then unset). */
  runner?: string;
  userAgent?: string;
  /**
   * Longest silence on the connection before giving up. GitLab Runner waits up to 10 min for
   * response headers; a long poll holds ~50 s, so nothing shorter may be used here.
   */
  idleTimeoutMs?: number;
  /** Whole-request deadline per attempt (GitLab Runner: 60 min). */
  requestTimeoutMs?: number;
}

export class GitLabHttp {
  /** Normalised `<url>/api/v4/`, or undefined when the URL is unusable (see `urlError`). */
  readonly baseUrl: string | undefined;
  readonly urlError: GitLabUrlError | undefined;
  private readonly policy: RetryPolicy;
  private readonly userAgent: string;
  /** The header-wait cap is explained once per client, not on every retry. */
  private capLogged = false;

  constructor(private readonly opts: GitLabHttpOptions) {
    // A bad URL is reported on each request, as GitLab Runner does, so one broken runner
    // entry cannot stop a process that serves several.
    try {
      this.baseUrl = apiBaseUrl(opts.url);
    } catch (err) {
      this.urlError = err as GitLabUrlError;
    }
    this.policy = { ...DEFAULT_RETRY_POLICY, ...definedOnly(opts.retry ?? {}) };
    this.userAgent = opts.userAgent ?? defaultUserAgent(opts.version, opts.revision);
  }

  /**
   * Sends with transport-level retry. Resolves with the last HTTP answer, even a retriable one
   * after the last attempt; rejects with GitLabUrlError or GitLabTransportError.
   */
  async send(req: GitLabRequest): Promise<GitLabResponse> {
    if (!this.baseUrl) throw this.urlError ?? new GitLabUrlError(`GitLab URL "${this.opts.url}" is unusable`);
    const url = new URL(req.path, this.baseUrl);
    for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.set(k, v);
    let retriableSeen = false;
    for (let attempt = 1; ; attempt++) {
      const requestId = newRequestId();
      const res = await this.fetchOnce(url, req, requestId);
      const retriable = isRetriableStatus(res.status);
      retriableSeen ||= retriable;
      const serverId = res.headers.get("X-Request-Id") || requestId;
      this.opts.logger?.debug(
        { method: req.method, path: req.path, status: res.status, requestId: serverId, attempt },
        "GitLab answered",
      );
      if (!retriable || attempt >= this.policy.maxAttempts) {
        const text = await readText(res, req);
        return {
          status: res.status,
          headers: res.headers,
          text,
          requestId: serverId,
          attempts: attempt,
          retriableSeen,
        };
      }
      // Free the connection before waiting; the body of a retriable answer is of no use.
      await res.body?.cancel().catch(() => {});
      const delay = retryDelay(res.headers, attempt, Date.now(), this.policy);
      const wait = delay.ms;
      if (delay.cappedFromMs !== undefined && !this.capLogged) {
        this.capLogged = true;
        const who = this.opts.runner ? `runner "${this.opts.runner}"` : `GitLab at ${this.opts.url}`;
        this.opts.logger?.warn(
          { runner: this.opts.runner, header: delay.source, askedMs: delay.cappedFromMs, capMs: wait },
          `${who}: GitLab's ${delay.source} asks for ${Math.round(delay.cappedFromMs / 1000)} s before the next attempt; runmesh waits at most ${wait / 1000} s per attempt (GitLab Runner would wait it all) and reads the header again on each answer`,
        );
      }
      this.opts.logger?.warn(
        {
          method: req.method,
          path: req.path,
          status: res.status,
          requestId: serverId,
          attempt,
          waitMs: wait,
          ...(delay.cappedFromMs !== undefined ? { askedMs: delay.cappedFromMs } : {}),
        },
        `GitLab answered ${res.status}; retrying (attempt ${attempt + 1} of ${this.policy.maxAttempts})`,
      );
      if (!(await sleepUnlessAborted(wait, req.signal)))
        throw new GitLabTransportError(`${req.method} ${req.path}: aborted while waiting to retry`, true);
    }
  }

  private async fetchOnce(url: URL, req: GitLabRequest, requestId: string): Promise<Response> {
    const deadline = AbortSignal.timeout(this.opts.requestTimeoutMs ?? 60 * 60_000);
    const signal = req.signal ? AbortSignal.any([req.signal, deadline]) : deadline;
    try {
      return await fetch(url, {
        method: req.method,
        headers: { ...req.headers, "User-Agent": this.userAgent, "X-Request-Id": requestId },
        body: req.body,
        signal,
        redirect: "follow",
        timeout: this.opts.idleTimeoutMs ?? 10 * 60_000,
        tls: tlsOptions(this.opts.tls),
      });
    } catch (err) {
      const aborted = req.signal?.aborted === true;
      const why = deadline.aborted && !aborted ? "request deadline passed" : (err as Error)?.message;
      throw new GitLabTransportError(`${req.method} ${url.origin}/…/${req.path} failed: ${why}`, aborted, {
        cause: err,
      });
    }
  }
}

async function readText(res: Response, req: GitLabRequest): Promise<string> {
  try {
    return await res.text();
  } catch (err) {
    throw new GitLabTransportError(
      `${req.method} ${req.path}: connection lost while reading the answer: ${(err as Error)?.message}`,
      req.signal?.aborted === true,
      { cause: err },
    );
  }
}

function tlsOptions(tls: TlsFiles | undefined) {
  if (!tls || (!tls.caFile && !tls.certFile && !tls.keyFile)) return undefined;
  // Bun.file is read lazily per connection, so rotated certificates are picked up.
  return {
    ...(tls.caFile ? { ca: Bun.file(tls.caFile) } : {}),
    ...(tls.certFile ? { cert: Bun.file(tls.certFile) } : {}),
    ...(tls.keyFile ? { key: Bun.file(tls.keyFile) } : {}),
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
