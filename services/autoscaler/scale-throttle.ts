// scale_throttle: a token bucket of instance creations (limit per second, burst), pure so the
// planner can be replayed; GitLab's -1 (no limit) is an infinite rate.

export interface ThrottleState {
  tokens: number;
  atMs: number;
}

export function initialThrottle(burst: number, nowMs: number): ThrottleState {
  return { tokens: burst, atMs: nowMs };
}

/** Takes up to `wanted` tokens at `nowMs`: how many were granted and the bucket after. */
export function takeTokens(
  state: ThrottleState,
  wanted: number,
  limitPerS: number,
  burst: number,
  nowMs: number,
): { granted: number; state: ThrottleState } {
  if (!Number.isFinite(limitPerS)) return { granted: wanted, state: { tokens: burst, atMs: nowMs } };
  const elapsed = Math.max(0, nowMs - state.atMs);
  const tokens = Math.min(burst, state.tokens + (elapsed / 1000) * limitPerS);
  const granted = Math.max(0, Math.min(wanted, Math.floor(tokens)));
  return { granted, state: { tokens: tokens - granted, atMs: Math.max(nowMs, state.atMs) } };
}
