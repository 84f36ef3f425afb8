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
  /** Longest wait a rate-limit header may impose on one attempt (see HEADER_WAIT_CAP_MS). */
  maxHeaderWaitMs: number;
}

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
 * Longest wait a `RateLimit-ResetTime` or `Retry-After` header may impose on one attempt.
 * GitLab Runner 19.4 has no cap (network/retry_requester.go sleeps until the reset time, however
 * far): a reset time an hour ahead would hold a job's trace and updates, or a runner's poll
 * slot, for an hour. 60 s is GitLab Runner's own backoff ceiling (backOffMaxDelay), so no
 * header makes runmesh wait longer per attempt than GitLab Runner waits without one; each
 * attempt reads the header again, so a longer limit still spaces the attempts.
 */
export const HEADER_WAIT_CAP_MS = 60_000;

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 100,
  maxDelayMs: 60_000,
  maxHeaderWaitMs: HEADER_WAIT_CAP_MS,
};

export interface RetryDelay {
  /** What to wait, capped. */
  ms: number;
  /** What decided it. */
  source: "RateLimit-ResetTime" | "Retry-After" | "backoff";
  /** What the header asked for, when it asked for more than the cap. */
  cappedFromMs?: number;
}

/**
 * How long to wait before the next attempt, as GitLab Runner's calculateWaitTime: a future
 * `RateLimit-ResetTime` (RFC 1123 date) wins, then a positive `Retry-After`, then exponential
 * backoff. Retry-After is delta-seconds (what GitLab Runner reads) or an HTTP date (RFC 7231
 * §7.1.1.1, which GitLab Runner 19.4 rejects and backs off on; runmesh honours it). Anything
 * unparsable, past or not positive falls through to the next rule. Header waits are capped at
 * `maxHeaderWaitMs`.
 */
export function retryDelay(
  headers: HeaderSource,
  attempt: number,
  now: number,
  policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs"> & {
    maxHeaderWaitMs?: number;
  } = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): RetryDelay {
  const capMs = policy.maxHeaderWaitMs ?? HEADER_WAIT_CAP_MS;
  const fromHeader = (source: "RateLimit-ResetTime" | "Retry-After", ms: number): RetryDelay =>
    ms > capMs ? { ms: capMs, source, cappedFromMs: ms } : { ms, source };
  const resetTime = headers.get("RateLimit-ResetTime");
  if (resetTime) {
    const at = Date.parse(resetTime);
    if (Number.isFinite(at) && at > now) return fromHeader("RateLimit-ResetTime", at - now);
  }
  const retryAfter = headers.get("Retry-After")?.trim();
  if (retryAfter) {
    // Go's strconv.Atoi: an optional sign, then digits.
    const ms = /^[+-]?\d+$/.test(retryAfter)
      ? Number(retryAfter) * 1000
      : (parseHttpDate(retryAfter) ?? Number.NaN) - now;
    if (ms > 0) return fromHeader("Retry-After", ms);
  }
  return { ms: backoffDelayMs(attempt, policy, random), source: "backoff" };
}

/** `retryDelay`'s wait alone. */
export function retryDelayMs(
  headers: HeaderSource,
  attempt: number,
  now: number,
  policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs"> = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): number {
  return retryDelay(headers, attempt, now, policy, random).ms;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const LONG_DAY = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)";
const MON = `(?<mon>${MONTHS.join("|")})`;
const TIME = "(?<hh>\\d\\d):(?<mm>\\d\\d):(?<ss>\\d\\d)";
const HTTP_DATES = [
  // IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
  new RegExp(`^${DAY}, (?<day>\\d\\d) ${MON} (?<year>\\d{4}) ${TIME} GMT$`),
  // Obsolete RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`.
  new RegExp(`^${LONG_DAY}, (?<day>\\d\\d)-${MON}-(?<yy>\\d\\d) ${TIME} GMT$`),
  // Obsolete asctime: `Sun Nov  6 08:49:37 1994`.
  new RegExp(`^${DAY} ${MON} (?<day>[ \\d]\\d) ${TIME} (?<year>\\d{4})$`),
];

/**
 * An HTTP date in any of the three forms RFC 7231 §7.1.1.1 says a recipient must accept, as
 * epoch ms; undefined for anything else (Date.parse would take "1" or "Tomorrow 3pm"-ish
 * strings). A two-digit RFC 850 year more than 50 years ahead is last century (RFC 7231).
 */
export function parseHttpDate(value: string, now = Date.now()): number | undefined {
  const g = HTTP_DATES.map((re) => re.exec(value)?.groups).find((x) => x !== undefined);
  if (!g) return undefined;
  let year = Number(g.year);
  if (g.yy !== undefined) {
    const thisYear = new Date(now).getUTCFullYear();
    year = Math.floor(thisYear / 100) * 100 + Number(g.yy);
    if (year > thisYear + 50) year -= 100;
  }
  const [day, hh, mm, ss] = [g.day, g.hh, g.mm, g.ss].map(Number) as [number, number, number, number];
  const at = Date.UTC(year, MONTHS.indexOf(g.mon!), day, hh, mm, ss);
  // Impossible dates and times (31 Feb, 25:00) are refused, not rolled over by Date.UTC.
  const t = new Date(at);
  const exact = t.getUTCDate() === day && t.getUTCHours() === hh && t.getUTCMinutes() === mm && ss < 60;
  return exact ? at : undefined;
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
