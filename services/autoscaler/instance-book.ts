// The instance group's book, as the active autoscaler keeps it and the standby reads it: pure
// operations on AutoscalerGroupState (what Update reported, acquire, release, restore), so the
// service around them only does I/O.

import type { ProviderState } from "../../libs/fleeting/instance-group.ts";
import type { AutoscalerGroupState } from "../../libs/messages/subjects.ts";
import type { InstanceView } from "./planner.ts";
import type { PlannerSettings } from "./planner-settings.ts";

type Instance = AutoscalerGroupState["instances"][number];

export function emptyBook(nowMs: number): AutoscalerGroupState {
  return { instances: [], pending: 0, memo: {}, savedAtMs: nowMs };
}

export interface Reconciled {
  book: AutoscalerGroupState;
  /** Listed by the plugin but not ours: deleted for safety (fleeting's "preexisted"). */
  strangers: string[];
  /** Ours but no longer listed; with acquisitions that is "instance unexpectedly removed". */
  vanished: { id: string; acquisitions: string[] }[];
  /** Turned running: readiness (instance_ready_command) comes next. */
  running: string[];
}

/** Folds one Update into the book; new ids fill pending instances first, in the order listed. */
export function reconcile(
  book: AutoscalerGroupState,
  reported: ReadonlyMap<string, ProviderState>,
  nowMs: number,
): Reconciled {
  const strangers: string[] = [];
  const vanished: Reconciled["vanished"] = [];
  const running: string[] = [];
  const instances: Instance[] = [];
  for (const i of book.instances) {
    const state = reported.get(i.id);
    if (state === undefined || state === "deleted") {
      if (i.state !== "deleting") vanished.push({ id: i.id, acquisitions: i.acquisitions });
      continue;
    }
    if (state === "deleting" && i.state !== "deleting") instances.push({ ...i, state: "deleting" });
    else if (state === "timeout" && i.state !== "deleting") instances.push({ ...i, state: "unhealthy" });
    else {
      if (state === "running" && i.state === "creating") running.push(i.id);
      instances.push(i);
    }
  }
  const known = new Set(book.instances.map((i) => i.id));
  let pending = book.pending;
  for (const [id, state] of reported) {
    if (known.has(id) || state === "deleted") continue;
    if (pending > 0 && (state === "creating" || state === "running")) {
      pending -= 1;
      instances.push({
        id,
        state: "creating",
        acquisitions: [],
        useCount: 0,
        idleSinceMs: nowMs,
        createdAtMs: nowMs,
      });
      if (state === "running") running.push(id);
    } else if (state !== "deleting") strangers.push(id);
  }
  const pendingSinceMs = pending < book.pending ? nowMs : book.pendingSinceMs;
  return { book: { ...book, instances, pending, pendingSinceMs }, strangers, vanished, running };
}

function usableFree(i: Instance, s: PlannerSettings): number {
  const free = s.capacityPerInstance - i.acquisitions.length;
  return s.maxUseCount > 0 ? Math.min(free, s.maxUseCount - i.useCount) : free;
}

/**
 * Whether worker `asker` may acquire or release `key` (issue 13): yes when no instance holds the
 * key, when `asker` holds it, or when no holder was recorded (a book written before holders were:
 * the asker takes it over); otherwise no, with the holder and its instance for the refusal.
 */
export function holderCheck(
  book: AutoscalerGroupState,
  key: string,
  asker: string,
): { ok: true } | { ok: false; holder: string; instanceId: string } {
  const held = book.instances.find((i) => i.acquisitions.includes(key));
  const holder = held?.holders?.[key];
  if (!held || holder === undefined || holder === asker) return { ok: true };
  return { ok: false, holder, instanceId: held.id };
}

/**
 * A slot for `key` on a ready instance: the one it already holds, else the fullest instance that
 * still has a usable slot (so the others can go idle and be removed). `holder` (the asking worker)
 * is recorded as the acquisition's holder; check it first with holderCheck.
 */
export function acquireSlot(
  book: AutoscalerGroupState,
  key: string,
  s: PlannerSettings,
  /** Instances not to pick this time (their heartbeat just failed). */
  exclude: ReadonlySet<string> = new Set(),
  holder?: string,
): { book: AutoscalerGroupState; instanceId: string } | undefined {
  const hold = (i: Instance): Instance =>
    holder === undefined ? i : { ...i, holders: { ...i.holders, [key]: holder } };
  const held = book.instances.find((i) => i.acquisitions.includes(key));
  if (held) {
    if (holder === undefined || held.holders?.[key] === holder) return { book, instanceId: held.id };
    const instances = book.instances.map((i) => (i.id === held.id ? hold(i) : i));
    return { book: { ...book, instances }, instanceId: held.id };
  }
  const candidates = book.instances
    .filter((i) => i.state === "ready" && usableFree(i, s) > 0 && !exclude.has(i.id))
    .sort((a, b) => b.acquisitions.length - a.acquisitions.length || (a.id < b.id ? -1 : 1));
  const pick = candidates[0];
  if (!pick) return undefined;
  const instances = book.instances.map((i) =>
    i.id === pick.id ? hold({ ...i, acquisitions: [...i.acquisitions, key], useCount: i.useCount + 1 }) : i,
  );
  return { book: { ...book, instances }, instanceId: pick.id };
}

/** The instance without acquisition `key`'s holder, or without any (no empty object left behind). */
function dropHolder(i: Instance, key?: string): Instance {
  if (!i.holders) return i;
  const { holders, ...bare } = i;
  if (key === undefined) return bare;
  const rest = Object.fromEntries(Object.entries(holders).filter(([k]) => k !== key));
  return Object.keys(rest).length > 0 ? { ...bare, holders: rest } : bare;
}

/**
 * A heartbeat before an instance is handed out (taskscaler's acquire heartbeat): failures in a row
 * count up, a success resets them, and the failure_threshold-th makes the instance unhealthy, so
 * the planner replaces it once it holds no job.
 */
export function recordHeartbeat(
  book: AutoscalerGroupState,
  id: string,
  ok: boolean,
  failureThreshold: number,
): { book: AutoscalerGroupState; turnedUnhealthy: boolean; failures: number } {
  let turnedUnhealthy = false;
  let failures = 0;
  const instances = book.instances.map((i) => {
    if (i.id !== id) return i;
    failures = ok ? 0 : (i.failures ?? 0) + 1;
    const unhealthy = !ok && failures >= failureThreshold && i.state === "ready";
    turnedUnhealthy = unhealthy;
    return { ...i, failures, state: unhealthy ? ("unhealthy" as const) : i.state };
  });
  return { book: { ...book, instances }, turnedUnhealthy, failures };
}

export function releaseSlot(
  book: AutoscalerGroupState,
  key: string,
  nowMs: number,
): { book: AutoscalerGroupState; released: boolean } {
  let released = false;
  const instances = book.instances.map((i) => {
    if (!i.acquisitions.includes(key)) return i;
    released = true;
    const acquisitions = i.acquisitions.filter((k) => k !== key);
    return {
      ...dropHolder(i, key),
      acquisitions,
      idleSinceMs: acquisitions.length === 0 ? nowMs : i.idleSinceMs,
    };
  });
  return { book: { ...book, instances }, released };
}

/**
 * A book read back from state_storage after a restart of the all-in-one: the jobs died with the
 * process, so an instance still holding acquisitions is deleted unless
 * keep_instance_with_acquisitions (then kept, its acquisitions dropped, its use count kept);
 * every kept instance goes through readiness again.
 */
export function restoreFromStorage(
  book: AutoscalerGroupState,
  keepInstanceWithAcquisitions: boolean,
  nowMs: number,
): { book: AutoscalerGroupState; toDelete: string[] } {
  const toDelete: string[] = [];
  const instances: Instance[] = [];
  for (const i of book.instances) {
    if (i.state === "deleting") instances.push(i);
    else if (i.acquisitions.length > 0 && !keepInstanceWithAcquisitions) {
      toDelete.push(i.id);
      instances.push({ ...i, state: "deleting" });
    } else instances.push({ ...dropHolder(i), state: "creating", acquisitions: [], idleSinceMs: nowMs });
  }
  // Instances asked for before the restart and not listed yet are adopted when they show up.
  return { book: { ...book, instances }, toDelete };
}

export function plannerViews(book: AutoscalerGroupState): InstanceView[] {
  return book.instances.map((i) => ({
    id: i.id,
    state: i.state,
    acquisitions: i.acquisitions.length,
    useCount: i.useCount,
    idleSinceMs: i.idleSinceMs,
  }));
}

/** Slot counts for the capacity the autoscaler reports to the scheduler. */
export function capacityOf(book: AutoscalerGroupState, s: PlannerSettings) {
  let free = 0;
  let total =
    book.pending *
    (s.maxUseCount > 0 ? Math.min(s.capacityPerInstance, s.maxUseCount) : s.capacityPerInstance);
  let acquired = 0;
  let instances = 0;
  for (const i of book.instances) {
    if (i.state === "deleting") continue;
    instances += 1;
    acquired += i.acquisitions.length;
    if (i.state === "unhealthy") continue;
    const usable = Math.max(0, usableFree(i, s));
    total += usable + i.acquisitions.length;
    if (i.state === "ready") free += usable;
  }
  return { free, total, acquired, instances };
}

/**
 * The group in fleeting's and taskscaler's terms, for their metrics: instances by provider state
 * (requested = asked for, not listed yet) and task slots by taskscaler state. `waiting` are the
 * acquisitions waiting for a slot (taskscaler's pending); runmesh's reservations are the
 * scheduler's leases, so `reserved` is always 0 here.
 */
export function groupCounts(
  book: AutoscalerGroupState,
  s: PlannerSettings,
  waiting: number,
): { instances: Record<string, number>; tasks: Record<string, number> } {
  const instances = { requested: book.pending, creating: 0, running: 0, deleting: 0 };
  const tasks = { idle: 0, pending: waiting, acquired: 0, reserved: 0, unavailable: 0, unhealthy: 0 };
  for (const i of book.instances) {
    if (i.state === "deleting") {
      instances.deleting += 1;
      continue;
    }
    if (i.state === "creating") {
      instances.creating += 1;
      continue;
    }
    instances.running += 1;
    tasks.acquired += i.acquisitions.length;
    const free = Math.max(0, s.capacityPerInstance - i.acquisitions.length);
    if (i.state === "unhealthy") tasks.unhealthy += free;
    else {
      const usable = Math.max(0, usableFree(i, s));
      tasks.idle += usable;
      tasks.unavailable += free - usable;
    }
  }
  return { instances, tasks };
}

/** GitLab Runner's default deletion_retry_interval: Decrease again for an instance still listed after this. */
export const DELETION_RETRY_MS = 60_000;
/** Default instance_acquire_timeout: instances asked for that never show up stop counting as coming after it. */
export const PENDING_TIMEOUT_MS = 15 * 60_000;

/**
 * Housekeeping after an Update: instances whose Decrease is older than deletion_retry_interval
 * (sent again), and pending instances no Update has shown for instance_acquire_timeout (forgotten,
 * so a plugin that lost a request does not hold the group's capacity hostage).
 */
export function housekeeping(
  book: AutoscalerGroupState,
  nowMs: number,
  limits: { deletionRetryIntervalMs: number; instanceAcquireTimeoutMs: number } = {
    deletionRetryIntervalMs: DELETION_RETRY_MS,
    instanceAcquireTimeoutMs: PENDING_TIMEOUT_MS,
  },
): { book: AutoscalerGroupState; retryDelete: string[]; forgotPending: number } {
  const retryDelete = book.instances
    .filter(
      (i) => i.state === "deleting" && nowMs - (i.deletingSinceMs ?? nowMs) >= limits.deletionRetryIntervalMs,
    )
    .map((i) => i.id);
  const stale = book.pending > 0 && nowMs - (book.pendingSinceMs ?? nowMs) >= limits.instanceAcquireTimeoutMs;
  const instances = book.instances.map((i) =>
    i.state === "deleting" && i.deletingSinceMs === undefined ? { ...i, deletingSinceMs: nowMs } : i,
  );
  return {
    book: { ...book, instances, pending: stale ? 0 : book.pending },
    retryDelete,
    forgotPending: stale ? book.pending : 0,
  };
}
