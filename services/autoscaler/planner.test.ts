import { describe, expect, test } from "bun:test";
import { autoscalerSettingsSchema } from "../../libs/config/autoscaler-section.ts";
import { activePolicy } from "./active-policy.ts";
import { canReserve, type InstanceView, type PlannerInput, plan, shutdownRemovals } from "./planner.ts";
import { type PlannerSettings, plannerSettings } from "./planner-settings.ts";
import { takeTokens } from "./scale-throttle.ts";

const T0 = Date.parse("2026-11-30T12:00:00Z");

function settings(section: Record<string, unknown>): PlannerSettings {
  return plannerSettings(autoscalerSettingsSchema.parse(section));
}

function inst(id: string, over: Partial<InstanceView> = {}): InstanceView {
  return { id, state: "ready", acquisitions: 0, useCount: 0, idleSinceMs: T0 - 3_600_000, ...over };
}

function input(instances: InstanceView[], over: Partial<PlannerInput> = {}): PlannerInput {
  return { instances, pending: 0, reserved: 0, memo: {}, ...over };
}

describe("planner: taskscaler's formula", () => {
  test("idle_count is in jobs: 3 idle jobs on 2-slot instances need 2 instances, asked for in one tick", () => {
    const s = settings({ capacity_per_instance: 2, policy: [{ idle_count: 3 }] });
    const p = plan(input([]), s, T0);
    expect(p.increase).toBe(2);
    expect(p.terms.required).toBe(2);
  });

  test("the whole delta at once: 40 reservations on an empty group ask for 40 instances in one tick", () => {
    const s = settings({ max_instances: 100 });
    expect(plan(input([], { reserved: 40 }), s, T0).increase).toBe(40);
  });

  test("scale_factor raises the idle target above idle_count, capped by scale_factor_limit", () => {
    const busy = Array.from({ length: 10 }, (_, i) => inst(`i${i}`, { acquisitions: 1, useCount: 1 }));
    const s = settings({ policy: [{ idle_count: 1, scale_factor: 0.5, scale_factor_limit: 3 }] });
    const p = plan(input(busy), s, T0);
    expect(p.terms.idle_target).toBe(3);
    expect(p.increase).toBe(3);
    const uncapped = settings({ policy: [{ idle_count: 1, scale_factor: 0.5 }] });
    expect(plan(input(busy), uncapped, T0).increase).toBe(5);
    const floor = settings({ policy: [{ idle_count: 4, scale_factor: 0.1, scale_factor_limit: 9 }] });
    expect(plan(input(busy), floor, T0).terms.idle_target).toBe(4);
  });

  test("max_use_count: a spent empty instance is removed at once and its replacement asked for", () => {
    const s = settings({ max_use_count: 2, policy: [{ idle_count: 1, idle_time: "1h" }] });
    const p = plan(input([inst("a", { useCount: 2, idleSinceMs: T0 })]), s, T0);
    expect(p.remove).toEqual(["a"]);
    expect(p.reasons.a).toBe("retired");
    expect(p.increase).toBe(1);
  });

  test("max_use_count: the spent slots of a busy instance are unavailable, so demand is met elsewhere", () => {
    const s = settings({ capacity_per_instance: 4, max_use_count: 2, policy: [{ idle_count: 1 }] });
    const p = plan(input([inst("a", { acquisitions: 1, useCount: 2 })]), s, T0);
    expect(p.terms.unavailable_capacity).toBe(3);
    expect(p.remove).toEqual([]);
    expect(p.increase).toBe(1);
  });

  test("max_use_count below capacity_per_instance: a new instance brings only max_use_count slots", () => {
    // Taskscaler's ceil((demand + unavailable) / C) would ask for 2 and crawl up one per tick.
    const s = settings({ capacity_per_instance: 4, max_use_count: 1, policy: [{ idle_count: 6 }] });
    expect(plan(input([]), s, T0).increase).toBe(6);
  });

  test("max_instances caps the increase and counts instances still being deleted", () => {
    const s = settings({ max_instances: 5 });
    const group = [inst("d1", { state: "deleting" }), inst("a", { acquisitions: 1 })];
    const p = plan(input(group, { reserved: 10 }), s, T0);
    expect(p.increase).toBe(3);
    expect(p.held).toBe("max_instances");
  });

  test("the plugin's MaxSize caps like max_instances", () => {
    const p = plan(input([], { reserved: 10, providerMaxSize: 4 }), settings({}), T0);
    expect([p.increase, p.held]).toEqual([4, "provider_max_size"]);
  });

  test("scale_throttle: burst tokens at once, then limit per second", () => {
    const s = settings({ scale_throttle: { limit: 2, burst: 5 } });
    const first = plan(input([], { reserved: 20 }), s, T0);
    expect([first.increase, first.held]).toEqual([5, "scale_throttle"]);
    const second = plan(input([], { reserved: 20, pending: 5, memo: first.memo }), s, T0 + 1500);
    expect(second.increase).toBe(3);
    expect(takeTokens({ tokens: 0, atMs: 0 }, 9, Number.POSITIVE_INFINITY, 0, 0).granted).toBe(9);
  });

  test("scale_throttle defaults: 100/s and a burst of max_instances; -1 is no limit", () => {
    expect(settings({ max_instances: 7 })).toMatchObject({ throttleLimit: 100, throttleBurst: 7 });
    expect(settings({})).toMatchObject({ throttleLimit: 100, throttleBurst: 100 });
    expect(settings({ scale_throttle: { limit: -1 } }).throttleLimit).toBe(Number.POSITIVE_INFINITY);
  });

  test("idle_time: only instances idle longer are removed, longest idle first", () => {
    const s = settings({ policy: [{ idle_count: 0, idle_time: "10m" }] });
    const group = [
      inst("fresh", { idleSinceMs: T0 - 60_000 }),
      inst("old", { idleSinceMs: T0 - 3_600_000 }),
      inst("older", { idleSinceMs: T0 - 7_200_000 }),
    ];
    expect(plan(input(group), s, T0).remove).toEqual(["older", "old"]);
  });

  test("update_interval_when_expecting while instances are coming or going, update_interval otherwise", () => {
    const s = settings({ update_interval: "30s", update_interval_when_expecting: "3s" });
    expect(plan(input([inst("a", { state: "creating" })]), s, T0).nextUpdateMs).toBe(3_000);
    expect(plan(input([], { pending: 1 }), s, T0).nextUpdateMs).toBe(3_000);
    expect(plan(input([inst("a", { acquisitions: 1 })]), s, T0).nextUpdateMs).toBe(30_000);
  });

  test("delete_instances_on_shutdown lists every instance not already deleting; off lists none", () => {
    const group = [inst("a", { acquisitions: 1 }), inst("b", { state: "deleting" }), inst("c")];
    expect(shutdownRemovals(group, settings({ delete_instances_on_shutdown: true }))).toEqual(["a", "c"]);
    expect(shutdownRemovals(group, settings({}))).toEqual([]);
  });

  test("an unhealthy instance (failed instance_ready_command) is removed once empty and replaced", () => {
    const s = settings({ policy: [{ idle_count: 1 }] });
    const p = plan(input([inst("bad", { state: "unhealthy" })]), s, T0);
    expect([p.remove, p.reasons.bad, p.increase]).toEqual([["bad"], "unhealthy", 1]);
    const busy = plan(input([inst("bad", { state: "unhealthy", acquisitions: 1 })]), s, T0);
    expect(busy.remove).toEqual([]);
  });
});

describe("planner: taskscaler's past bugs (autoscaling.md §1.3.5)", () => {
  const idle0 = settings({ policy: [{ idle_count: 0, idle_time: "5m" }] });

  test("taskscaler#20 / runner#37526: an idle instance removed is not recreated on the next ticks", () => {
    const first = plan(input([inst("a")]), idle0, T0);
    expect(first.remove).toEqual(["a"]);
    const next = plan(input([inst("a", { state: "deleting" })], { memo: first.memo }), idle0, T0 + 2_000);
    expect([next.increase, next.remove]).toEqual([0, []]);
    const gone = plan(input([], { memo: next.memo }), idle0, T0 + 4_000);
    expect(gone.increase).toBe(0);
  });

  test("no churn: the capacity of a scale-down is not re-requested within update_interval unless demand rose", () => {
    // A policy flip that lowers then restores the target would otherwise recreate what was just removed.
    const s = settings({ policy: [{ idle_count: 1, idle_time: "1m" }] });
    const memo = { lastScaleDown: { atMs: T0, demandSlots: 1 } };
    const same = plan(input([], { memo }), s, T0 + 10_000);
    expect([same.increase, same.held]).toEqual([0, "recent_scale_down"]);
    expect(plan(input([], { memo, reserved: 1 }), s, T0 + 10_000).increase).toBe(2);
    expect(plan(input([], { memo }), s, T0 + 61_000).increase).toBe(1);
  });

  test("MR !25 / runner#30953: an instance with a running job is never removed, whatever idle_time says", () => {
    const p = plan(input([inst("busy", { acquisitions: 1, idleSinceMs: T0 - 1e9 })]), idle0, T0);
    expect(p.remove).toEqual([]);
  });

  test("taskscaler#29 / MR !49: demand met by removed instances is not re-created (idle 0)", () => {
    const group = [
      inst("a", { state: "deleting" }),
      inst("b", { state: "deleting" }),
      inst("c", { acquisitions: 1 }),
    ];
    const p = plan(input(group), idle0, T0);
    expect([p.increase, p.terms.required]).toEqual([0, 1]);
  });

  test("MR !52: deleting instances are not unavailable capacity and get no replacement", () => {
    const s = settings({ capacity_per_instance: 2, policy: [{ idle_count: 2 }] });
    const group = [inst("a"), inst("gone", { state: "deleting" })];
    const p = plan(input(group), s, T0);
    expect([p.terms.unavailable_capacity, p.increase]).toEqual([0, 0]);
  });

  test("MR !52: reservations already covered do not block a valid scale-down", () => {
    const s = settings({ policy: [{ idle_count: 0, idle_time: "1m" }] });
    const p = plan(input([inst("a"), inst("b"), inst("c")], { reserved: 1 }), s, T0);
    expect(p.remove.length).toBe(2);
  });

  test("runner#37673: idle_count = 1 keeps one idle instance, not two, after idle_time", () => {
    const s = settings({ policy: [{ idle_count: 1, idle_time: "5m" }] });
    const p = plan(input([inst("a"), inst("b")]), s, T0);
    expect(p.remove.length).toBe(1);
    expect(p.increase).toBe(0);
  });

  test("taskscaler#6: preemptive mode reserves only against a ready idle slot, never an unready one", () => {
    const s = settings({ policy: [{ idle_count: 1 }] });
    expect(canReserve(input([inst("a", { state: "creating" })]), s, T0)).toBe(false);
    expect(canReserve(input([inst("a")]), s, T0)).toBe(true);
    expect(canReserve(input([inst("a")], { reserved: 1 }), s, T0)).toBe(false);
    expect(canReserve(input([], { pending: 1 }), settings({}), T0)).toBe(true);
  });

  test("never reaching zero: with idle_count 0 an idle group drains completely", () => {
    const p = plan(input([inst("a"), inst("b"), inst("c")]), idle0, T0);
    expect(p.remove.length).toBe(3);
  });
});

describe("policy periods", () => {
  const policies = settings({
    policy: [
      { idle_count: 1 },
      { periods: ["* 9-17 * * mon-fri"], timezone: "Europe/Berlin", idle_count: 5 },
      { periods: ["* 12 * * *"], timezone: "Europe/Berlin", idle_count: 2 },
    ],
  }).policies;

  test.each([
    ["Monday 07:30 UTC is 08:30 in Berlin: only the catch-all", "2026-11-30T07:30:00Z", 0],
    ["Monday 08:00 UTC is 09:00 in Berlin: working hours", "2026-11-30T08:00:30Z", 1],
    ["Monday 11:15 UTC is 12:15 in Berlin: the last match wins", "2026-11-30T11:15:00Z", 2],
    ["Sunday 10:00 UTC: the catch-all", "2026-11-29T10:00:00Z", 0],
  ])("%s", (_name, at, index) => {
    expect(activePolicy(policies, Date.parse(at)).index).toBe(index);
  });

  test("no matching period: the default policy (idle_count 0)", () => {
    const only = settings({ policy: [{ periods: ["* 3 * * *"], timezone: "UTC", idle_count: 9 }] }).policies;
    expect(activePolicy(only, Date.parse("2026-11-30T04:00:00Z"))).toMatchObject({
      index: -1,
      policy: { idleCount: 0 },
    });
  });

  test("a bad period names the pattern and what was expected", () => {
    expect(() => activePolicy(settings({ policy: [{ periods: ["every day"] }] }).policies, T0)).toThrow(
      /periods: "every day".*expected 5 fields/,
    );
  });

  test("preemptive_mode defaults to idle_count > 0", () => {
    expect(policies.map((p) => p.preemptive)).toEqual([true, true, true]);
    expect(settings({ policy: [{ idle_count: 0 }] }).policies[0]!.preemptive).toBe(false);
  });
});
