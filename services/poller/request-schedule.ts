// When the next `jobs/request` of one runner entry may start. GitLab Runner feeds each entry
// once per check_interval, the entries spread check_interval/N apart (commands/multi.go
// feedRunners): each entry keeps its slot in that rhythm, so a request that started off its slot
// (right after a job) is followed at the entry's next slot, and the entries stay spread. A
// request that outlasted the interval (a long poll) is followed at once, and so is one that got a
// job. runmesh adds one shortcut, only where long polling makes it cheap: see `queueMoved`.

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
  /** The entry's slots: phase + k × checkIntervalMs (absent: one interval after the start). */
  slotPhaseMs?: number;
}

export function nextRequestAt(i: ScheduleInput): number {
  const spaced =
    i.slotPhaseMs === undefined || i.checkIntervalMs <= 0
      ? i.startedAt + i.checkIntervalMs
      : nextSlotAfter(i.startedAt, i.slotPhaseMs, i.checkIntervalMs);
  if (i.strictCheckInterval) return Math.max(spaced, i.endedAt);
  if (i.gotJob || i.queueChanged) return i.endedAt;
  return Math.max(spaced, i.endedAt);
}

/** The first slot (phase + k × interval) strictly after `t`. */
export function nextSlotAfter(t: number, phaseMs: number, intervalMs: number): number {
  return phaseMs + (Math.floor((t - phaseMs) / intervalMs) + 1) * intervalMs;
}

/** The offset of entry `index` of `count` inside one check interval. */
export function staggerOffsetMs(index: number, count: number, checkIntervalMs: number): number {
  return count <= 0 ? 0 : Math.floor((checkIntervalMs / count) * index);
}

/**
 * How many times in a row a lane may go straight back without getting a job before
 * check_interval holds again. Two lets the long-poll cycle run: Rails names a new value, the
 * lane is held on it, Workhorse releases it when a job arrives, the lane goes to Rails for it.
 */
export const MAX_FRUITLESS_SHORTCUTS = 2;

export interface EmptyAnswer {
  /** The last_update this request sent (undefined: none sent, so Workhorse could not hold it). */
  sent: string | undefined;
  /** The 204's X-GitLab-Last-Update (undefined: a bare 204). */
  received: string | undefined;
  /** The answer carried Workhorse's `Gitlab-Ci-Builds-Polling: yes`. */
  longPolling: boolean;
  /** Shortcuts this lane took since its last job or its last check_interval wait. */
  fruitlessShortcuts: number;
}

/**
 * Whether a 204 may be followed at once instead of after check_interval. Yes when Workhorse held
 * the request and let it go with a bare 204 (the queue changed: the next request reaches Rails
 * and its job), or when long polling is on and Rails named a queue value other than the one sent
 * (the next request is held on it, so it costs GitLab nothing). Without long polling a new queue
 * value proves nothing and going back would hammer Rails, so check_interval holds. At most
 * MAX_FRUITLESS_SHORTCUTS in a row without a job: a Workhorse that answers bare 204s without
 * holding, or a busy instance whose queue value moves for jobs other runners take, costs Rails
 * at most three requests per lane and check_interval.
 */
export function queueMoved(a: EmptyAnswer): boolean {
  if (a.fruitlessShortcuts >= MAX_FRUITLESS_SHORTCUTS) return false;
  const heldAndReleased = a.sent !== undefined && a.received === undefined;
  const newValue = a.received !== undefined && a.received !== a.sent;
  return heldAndReleased || (a.longPolling && newValue);
}

/**
 * The fruitless shortcuts that count against an empty answer: none when its request was held at
 * least check_interval, since Workhorse keeping it that long is as good as waiting check_interval
 * (Rails was asked no more often than the interval allows). The usual case is a long poll that
 * timed out on an idle queue: counting those left an idle lane's budget spent, so the job that
 * finally came waited out check_interval (a ~0.9 s pickup in one sample of 30, issue 16).
 */
export function shortcutsCounted(
  fruitlessShortcuts: number,
  requestMs: number,
  checkIntervalMs: number,
): number {
  return checkIntervalMs > 0 && requestMs >= checkIntervalMs ? 0 : fruitlessShortcuts;
}

/** The first wait after an unanswered lease request; each further one doubles, up to check_interval. */
export const UNANSWERED_LEASE_FIRST_WAIT_MS = 100;

/**
 * How long a lane waits after its `attempt`-th unanswered lease request in a row: a scheduler
 * that starts after the poller (any start-up order is fine) is found within ~100 ms, and one that
 * stays away costs no more requests than check_interval allows.
 */
export function unansweredLeaseWaitMs(attempt: number, checkIntervalMs: number): number {
  const wait = UNANSWERED_LEASE_FIRST_WAIT_MS * 2 ** Math.min(20, Math.max(0, attempt - 1));
  return Math.min(wait, Math.max(UNANSWERED_LEASE_FIRST_WAIT_MS, checkIntervalMs));
}
