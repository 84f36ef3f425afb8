// When a runner authentication token is rotated: GitLab Runner's nextRunnerToReset
// (commands/multi.go): an entry with a token_expires_at is reset once 75 % of its lifetime
// (token_expires_at − token_obtained_at, common.TokenResetIntervalFactor) has passed; the earliest
// entry goes first. An entry with no expiry is never rotated. A missing token_obtained_at is Go's
// zero time, so such an entry is due at once, as in GitLab Runner. Pure, with injected time.

import { GO_ZERO_TIME } from "./schema-primitives.ts";

export const TOKEN_RESET_INTERVAL_FACTOR = 0.75;

export interface TokenHolder {
  runnerKey: string;
  name: string;
  token: string;
  token_obtained_at?: Date;
  token_expires_at?: Date;
}

export interface TokenRenewal<R extends TokenHolder> {
  runner: R;
  /** When the reset is due (may be in the past: due now). */
  at: Date;
  expiresAt: Date;
}

export function tokenRenewalTime(r: TokenHolder): Date | undefined {
  if (!r.token_expires_at) return undefined;
  const obtained = r.token_obtained_at?.getTime() ?? GO_ZERO_TIME;
  const lifetime = r.token_expires_at.getTime() - obtained;
  return new Date(obtained + TOKEN_RESET_INTERVAL_FACTOR * lifetime);
}

/** The entry whose token is due first, or undefined when no entry's token expires. */
export function nextRunnerToReset<R extends TokenHolder>(runners: readonly R[]): TokenRenewal<R> | undefined {
  let next: TokenRenewal<R> | undefined;
  for (const runner of runners) {
    const at = tokenRenewalTime(runner);
    if (!at || !runner.token_expires_at) continue;
    if (!next || at.getTime() < next.at.getTime()) next = { runner, at, expiresAt: runner.token_expires_at };
  }
  return next;
}
