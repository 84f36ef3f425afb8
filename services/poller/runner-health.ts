// GitLab Runner's health and adaptive request concurrency for one runner entry, as pure
// functions over the shared RunnerState (reference runner-api.md (c) "Health" and
// "Adaptive request concurrency").
import type { RunnerState } from "../../libs/messages/subjects.ts";

export interface HealthSettings {
  unhealthyRequestsLimit: number;
  unhealthyIntervalMs: number;
  requestConcurrency: number;
  /** FF_USE_ADAPTIVE_REQUEST_CONCURRENCY (default on); off: always request_concurrency. */
  adaptive?: boolean;
}

export type RequestOutcome = {
  /** 201 with a job. */
  gotJob: boolean;
  /** False only for 403 and transport errors. */
  healthy: boolean;
  /** The HTTP layer saw a retriable status (429/5xx) during the request. */
  retriableSeen: boolean;
  lastUpdate?: string;
};

export function initialRunnerState(now: number): RunnerState {
  return { failures: 0, lastHealthyAt: now, adaptiveConcurrency: 1 };
}

export function applyOutcome(
  state: RunnerState,
  outcome: RequestOutcome,
  now: number,
  s: HealthSettings,
): RunnerState {
  let adaptive = state.adaptiveConcurrency * (outcome.gotJob ? 1.1 : 0.95);
  if (outcome.retriableSeen) adaptive = state.adaptiveConcurrency * 0.5;
  adaptive = Math.min(Math.max(adaptive, 1), Math.max(1, s.requestConcurrency));
  return {
    lastUpdate: outcome.lastUpdate || state.lastUpdate,
    failures: outcome.healthy ? 0 : state.failures + 1,
    lastHealthyAt: outcome.healthy ? now : state.lastHealthyAt,
    adaptiveConcurrency: adaptive,
  };
}

/**
 * How far the stored last healthy check may lag this poller's: it decides when a silenced entry
 * is checked again (`unhealthy_interval`, an hour by default), so a second less is nothing.
 */
export const LAST_HEALTHY_LAG_MS = 1000;

/**
 * Whether `next` must be written over `stored`: a failure count or adaptive concurrency changed,
 * or the last healthy check moved on by more than LAST_HEALTHY_LAG_MS. A busy entry's every
 * request otherwise wrote its state again (a KV write and its acknowledgement per job, issue 16)
 * only to move lastHealthyAt by milliseconds and store the queue value GitLab sent, which moves
 * with every job. The queue value is only a hint that lets Workhorse hold a poll: another poller
 * with an older one gets an answer at once, with the new value, and holds its next poll.
 */
export function stateWorthSaving(stored: RunnerState, next: RunnerState): boolean {
  const healthyMoved = next.lastHealthyAt - stored.lastHealthyAt;
  return (
    next.failures !== stored.failures ||
    next.adaptiveConcurrency !== stored.adaptiveConcurrency ||
    healthyMoved < 0 ||
    healthyMoved > LAST_HEALTHY_LAG_MS
  );
}

/** Requests that may be in flight at once: the adaptive value rounded up. */
export function maxInFlight(state: RunnerState, s: HealthSettings): number {
  if (s.adaptive === false) return Math.max(1, s.requestConcurrency);
  return Math.min(Math.max(1, s.requestConcurrency), Math.ceil(state.adaptiveConcurrency - 1e-9));
}

export type HealthVerdict = { poll: true; forceCheck: boolean } | { poll: false; untilMs: number };

/**
 * After `unhealthy_requests_limit` consecutive unhealthy results the entry is not polled until
 * `unhealthy_interval` has passed since its last healthy check; then it is checked once more.
 */
export function healthVerdict(state: RunnerState, now: number, s: HealthSettings): HealthVerdict {
  if (state.failures < s.unhealthyRequestsLimit) return { poll: true, forceCheck: false };
  const until = state.lastHealthyAt + s.unhealthyIntervalMs;
  if (now >= until) return { poll: true, forceCheck: true };
  return { poll: false, untilMs: until };
}
