// When the next `jobs/request` of one runner entry may start. GitLab Runner feeds each entry
// once per check_interval, the entries spread check_interval/N apart; a request that outlasted
// the interval (a long poll) is followed at once, and so is one that got a job.

export interface ScheduleInput {
  /** When the previous request started (ms). */
  startedAt: number;
  /** When it ended. */
  endedAt: number;
  checkIntervalMs: number;
  gotJob: boolean;
  strictCheckInterval: boolean;
  /**
   * The 204 says the runner's queue moved (a woken long poll, or a new queue value): a job may be
   * waiting, or a long poll can start on the new value; either way waiting would only add latency.
   */
  queueChanged: boolean;
}

export function nextRequestAt(i: ScheduleInput): number {
  const spaced = i.startedAt + i.checkIntervalMs;
  if (i.strictCheckInterval) return Math.max(spaced, i.endedAt);
  if (i.gotJob || i.queueChanged) return i.endedAt;
  return Math.max(spaced, i.endedAt);
}

/** The offset of entry `index` of `count` inside one check interval. */
export function staggerOffsetMs(index: number, count: number, checkIntervalMs: number): number {
  return count <= 0 ? 0 : Math.floor((checkIntervalMs / count) * index);
}
