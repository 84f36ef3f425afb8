// Which [[runners.autoscaler.policy]] applies now: a period is a time range (the minutes its cron
// pattern matches, in the policy's timezone), and the last matching entry wins, as in GitLab
// Runner's taskscaler; none matching means the default policy (idle_count 0).
import { Cron } from "croner";
import { DEFAULT_POLICY, type PolicySettings } from "./planner-settings.ts";

const compiled = new Map<string, Cron>();

function cronFor(pattern: string, timezone: string | undefined): Cron {
  const key = `${timezone ?? ""}\u0000${pattern}`;
  let cron = compiled.get(key);
  if (!cron) {
    try {
      cron = new Cron(pattern, { timezone, paused: true });
    } catch (err) {
      throw new Error(
        `[[runners.autoscaler.policy]] periods: ${JSON.stringify(pattern)}${timezone ? ` (timezone ${timezone})` : ""} is not a cron pattern: ${(err as Error).message}; expected 5 fields like "* 9-17 * * mon-fri"`,
      );
    }
    compiled.set(key, cron);
  }
  return cron;
}

/** Throws the error naming the bad key, so a config with a broken period fails at load, not mid-scale. */
export function checkPolicies(policies: readonly PolicySettings[]): void {
  for (const p of policies) for (const period of p.periods) cronFor(period, p.timezone);
}

/** The policy in force at `nowMs` and its index (-1 for the default). */
export function activePolicy(
  policies: readonly PolicySettings[],
  nowMs: number,
): { policy: PolicySettings; index: number } {
  // A period covers whole minutes: match the start of the current minute.
  const minute = new Date(Math.floor(nowMs / 60_000) * 60_000);
  for (let i = policies.length - 1; i >= 0; i--) {
    const p = policies[i]!;
    if (p.periods.some((period) => cronFor(period, p.timezone).match(minute))) return { policy: p, index: i };
  }
  return { policy: DEFAULT_POLICY, index: -1 };
}
