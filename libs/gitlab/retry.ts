// Transport-level retry decisions, as GitLab Runner's network layer makes them: which statuses
// are worth another attempt and how long to wait before it. Pure, so the table tests pin them.

/** How the client retries a request that got a retriable status. */
export interface RetryPolicy {
  /** Attempts in total, the first one included (GitLab Runner: 5). */
  maxAttempts: number;
  /** First exponential backoff step (GitLab Runner: 100 ms). */
  baseDelayMs: number;
  /** Backoff ceiling (GitLab Runner: 60 s). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 60_000 };

/**
 * 408, 429, 500, 502, 503, 504 and anything from 512 up. 501 (not implemented) and 505–511
 * describe a server that will not change its mind, so they go straight back to the caller.
 */
export function isRetriableStatus(status: number): boolean {
  switch (status) {
    case 408:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return true;
    default:
      return status >= 512;
  }
}

/** Only the `get` of `Headers` is needed, so tests can pass a plain object wrapper. */
export interface HeaderSource {
  get(name: string): string | null;
}

/**
 * Exponential backoff for attempt `attempt` (1 = the wait after the first failed attempt):
 * base × 2^(attempt-1), capped, with jitter drawn from the upper half so waits never collapse
 * to zero and many runners do not retry in lockstep.
 */
export function backoffDelayMs(
  attempt: number,
  policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">,
  random: () => number = Math.random,
): number {
  const exp = policy.baseDelayMs * 2 ** Math.max(0, attempt - 1);
  const capped = Math.min(policy.maxDelayMs, exp);
  return Math.round(capped / 2 + (random() * capped) / 2);
}

/**
 * How long to wait before the next attempt: `RateLimit-ResetTime` (an RFC 1123 date) wins,
 * then `Retry-After` (whole seconds), then exponential backoff. A reset time that is
 * unparsable or already past, or a Retry-After that is not a non-negative integer, is ignored.
 */
export function retryDelayMs(
  headers: HeaderSource,
  attempt: number,
  now: number,
  policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs"> = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): number {
  const resetTime = headers.get("RateLimit-ResetTime");
  if (resetTime) {
    const at = Date.parse(resetTime);
    if (Number.isFinite(at) && at > now) return at - now;
  }
  const retryAfter = headers.get("Retry-After")?.trim();
  if (retryAfter && /^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
  return backoffDelayMs(attempt, policy, random);
}

/**
 * Waits `ms`, or less if `signal` aborts. Resolves true when the full time passed, false when
 * aborted: loops that stop on abort read better without exceptions.
 */
export function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
