// The autoscaler's brain: one pure function from what the instance group looks like now to what
// to change, with taskscaler's math (autoscaling.md §1.3.3) and the fixes for its past bugs
// (§1.3.5). No I/O and no clock of its own, so it is table-tested and replayed by `simulate`.
//
//   idle_target = max(idle_count, min(ceil(scale_factor × acquired), scale_factor_limit))
//   required    = ceil((acquired + reserved + unavailable + idle_target) / capacity_per_instance)
//                 (counted per instance's usable slots, see below)
//
// Capacity is counted in job slots. Instances being deleted are neither capacity nor demand
// (taskscaler MR !52); the whole delta goes out in one tick; an instance with acquisitions is never
// removed (MR !25); a scale-down is not undone within one update_interval unless demand rose
// (taskscaler#20, runner#37526).
import { activePolicy } from "./active-policy.ts";
import type { PlannerSettings, PolicySettings } from "./planner-settings.ts";
import { initialThrottle, type ThrottleState, takeTokens } from "./scale-throttle.ts";

/**
 * creating: asked for, booting or not yet through instance_ready_command; ready: slots usable;
 * unhealthy: readiness or heartbeats failed, or the plugin reported a timeout; deleting: Decrease sent.
 */
export type InstanceState = "creating" | "ready" | "unhealthy" | "deleting";

export interface InstanceView {
  id: string;
  state: InstanceState;
  /** Slots running a job now. */
  acquisitions: number;
  /** Acquisitions ever granted on this instance (max_use_count). */
  useCount: number;
  /** Since when the instance has had no acquisition (its last release, or when it became ready). */
  idleSinceMs: number;
}

/** What the planner remembers between ticks (kept by the service, stored with the group's state). */
export interface PlannerMemo {
  throttle?: ThrottleState;
  /** The last scale-down for idleness: its time and the demand (slots) it was decided on. */
  lastScaleDown?: { atMs: number; demandSlots: number };
}

export interface PlannerInput {
  instances: readonly InstanceView[];
  /** Instances Increase succeeded for that no Update has listed yet. */
  pending: number;
  /** Slots promised to job requests in flight. */
  reserved: number;
  /** ProviderInfo.MaxSize of the plugin (undefined = no cap of its own). */
  providerMaxSize?: number;
  memo: PlannerMemo;
}

/** The terms of the decision, named as GitLab Runner's "required scaling change" log line. */
export interface ScalingTerms {
  instance_count: number;
  max_instance_count: number;
  acquired: number;
  unavailable_capacity: number;
  pending: number;
  reserved: number;
  deleting: number;
  idle_count: number;
  idle_target: number;
  scale_factor: number;
  scale_factor_limit: number;
  capacity_per_instance: number;
  required: number;
  policy: number;
}

export interface Plan {
  /** Instances to ask the plugin for (Increase), the whole delta at once. */
  increase: number;
  /** Instances to delete (Decrease); never one holding an acquisition. */
  remove: string[];
  /** Why each removal: "retired" (max_use_count), "unhealthy", "idle". */
  reasons: Record<string, "retired" | "unhealthy" | "idle">;
  /** Why an increase was cut short, if it was. */
  held?: "max_instances" | "provider_max_size" | "scale_throttle" | "recent_scale_down";
  terms: ScalingTerms;
  memo: PlannerMemo;
  /** When to look again: update_interval_when_expecting while anything is in flight. */
  nextUpdateMs: number;
}

export function idleTarget(policy: PolicySettings, acquired: number): number {
  if (policy.scaleFactor <= 0) return policy.idleCount;
  const scaled = Math.ceil(policy.scaleFactor * acquired);
  const capped = policy.scaleFactorLimit > 0 ? Math.min(scaled, policy.scaleFactorLimit) : scaled;
  return Math.max(policy.idleCount, capped);
}

/** Slots of an instance that exist but can never take a job (max_use_count spent, unhealthy). */
function unavailableSlots(i: InstanceView, s: PlannerSettings): number {
  const free = Math.max(0, s.capacityPerInstance - i.acquisitions);
  if (i.state === "unhealthy") return free;
  if (s.maxUseCount <= 0) return 0;
  return free - Math.min(free, Math.max(0, s.maxUseCount - i.useCount));
}

export function plan(input: PlannerInput, s: PlannerSettings, nowMs: number): Plan {
  const { policy, index } = activePolicy(s.policies, nowMs);
  const C = s.capacityPerInstance;
  const reasons: Plan["reasons"] = {};
  const remove: string[] = [];

  // 1. Instances that must go whatever the demand: spent or unhealthy, and empty.
  const deleting = input.instances.filter((i) => i.state === "deleting").length;
  const live: InstanceView[] = [];
  for (const i of input.instances) {
    if (i.state === "deleting") continue;
    if (i.acquisitions === 0 && s.maxUseCount > 0 && i.useCount >= s.maxUseCount) {
      remove.push(i.id);
      reasons[i.id] = "retired";
    } else if (i.acquisitions === 0 && i.state === "unhealthy") {
      remove.push(i.id);
      reasons[i.id] = "unhealthy";
    } else live.push(i);
  }

  // 2. Demand and capacity over what stays.
  let acquired = 0;
  let unavailable = 0;
  for (const i of live) {
    acquired += i.acquisitions;
    unavailable += unavailableSlots(i, s);
  }
  const target = idleTarget(policy, acquired);
  const demandSlots = acquired + input.reserved + target;
  // Taskscaler's ceil((demand + unavailable) / C) forgets that a new instance brings only
  // min(C, max_use_count) usable slots; counting each instance's usable slots does not.
  const fresh = s.maxUseCount > 0 ? Math.min(C, s.maxUseCount) : C;
  const existing = live.length + input.pending;
  const usable = existing * C - unavailable - input.pending * (C - fresh);
  const required = existing + Math.ceil(Math.max(0, demandSlots - usable) / fresh);

  // Deleting instances still count against max_instances until the plugin has removed them.
  const caps: [NonNullable<Plan["held"]>, number][] = [];
  if (s.maxInstances > 0) caps.push(["max_instances", s.maxInstances]);
  if (input.providerMaxSize !== undefined) caps.push(["provider_max_size", input.providerMaxSize]);
  const occupied = existing + deleting + remove.length;

  let increase = 0;
  let held: Plan["held"];
  let throttle = input.memo.throttle ?? initialThrottle(s.throttleBurst, nowMs);
  let lastScaleDown = input.memo.lastScaleDown;
  if (required > existing) {
    increase = required - existing;
    for (const [name, cap] of caps) {
      const room = Math.max(0, cap - occupied);
      if (room < increase) [increase, held] = [room, name];
    }
    const recent = lastScaleDown && nowMs - lastScaleDown.atMs < s.updateIntervalMs;
    if (increase > 0 && recent && demandSlots <= lastScaleDown!.demandSlots) {
      [increase, held] = [0, "recent_scale_down"];
    }
    if (increase > 0) {
      const taken = takeTokens(throttle, increase, s.throttleLimit, s.throttleBurst, nowMs);
      if (taken.granted < increase) held = "scale_throttle";
      increase = taken.granted;
      throttle = taken.state;
    }
  } else {
    // 3. Scale down: empty ready instances idle past idle_time, longest idle first, while the
    // usable slots left (pending instances count as coming) still cover the demand. An instance's
    // own spent slots never justify keeping it.
    const cap = Math.min(...caps.map(([, c]) => c), Number.POSITIVE_INFINITY);
    let left = usable;
    let count = existing;
    const idle = live
      .filter(
        (i) => i.state === "ready" && i.acquisitions === 0 && nowMs - i.idleSinceMs >= policy.idleTimeMs,
      )
      .sort((a, b) => a.idleSinceMs - b.idleSinceMs || (a.id < b.id ? -1 : 1));
    let removedIdle = 0;
    for (const i of idle) {
      const own = C - unavailableSlots(i, s);
      if (left - own < demandSlots && count <= cap) continue;
      left -= own;
      count -= 1;
      removedIdle += 1;
      remove.push(i.id);
      reasons[i.id] = "idle";
    }
    if (removedIdle > 0) lastScaleDown = { atMs: nowMs, demandSlots };
  }

  const expecting =
    increase > 0 ||
    remove.length > 0 ||
    input.pending > 0 ||
    deleting > 0 ||
    input.instances.some((i) => i.state === "creating");
  return {
    increase,
    remove,
    reasons,
    held,
    terms: {
      instance_count: live.length,
      max_instance_count: s.maxInstances,
      acquired,
      unavailable_capacity: unavailable,
      pending: input.pending,
      reserved: input.reserved,
      deleting,
      idle_count: policy.idleCount,
      idle_target: target,
      scale_factor: policy.scaleFactor,
      scale_factor_limit: policy.scaleFactorLimit,
      capacity_per_instance: C,
      required,
      policy: index,
    },
    memo: { throttle, lastScaleDown },
    nextUpdateMs: expecting ? s.updateIntervalWhenExpectingMs : s.updateIntervalMs,
  };
}

/** delete_instances_on_shutdown: every instance not already being deleted, else none. */
export function shutdownRemovals(instances: readonly InstanceView[], s: PlannerSettings): string[] {
  if (!s.deleteInstancesOnShutdown) return [];
  return instances.filter((i) => i.state !== "deleting").map((i) => i.id);
}

/**
 * Can a job request be promised a slot now? Preemptive mode: only against a ready idle slot not
 * already promised (taskscaler#6: never against an unready instance); otherwise against any slot
 * that exists or is coming, up to max_instances.
 */
export function canReserve(input: PlannerInput, s: PlannerSettings, nowMs: number): boolean {
  const { policy } = activePolicy(s.policies, nowMs);
  let readyFree = 0;
  let allFree = 0;
  for (const i of input.instances) {
    if (i.state === "deleting" || i.state === "unhealthy") continue;
    const usable = Math.max(0, s.capacityPerInstance - i.acquisitions) - unavailableSlots(i, s);
    allFree += usable;
    if (i.state === "ready") readyFree += usable;
  }
  if (policy.preemptive) return readyFree > input.reserved;
  const room = s.maxInstances > 0 ? Math.max(0, s.maxInstances - input.instances.length - input.pending) : 1;
  return allFree + input.pending * s.capacityPerInstance > input.reserved || room > 0;
}
