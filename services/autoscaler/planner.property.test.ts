// Property tests of the planner over random groups (seeded, so a failure replays): the invariants
// of autoscaling.md §5.2 that must hold for any snapshot, and convergence in a simulated cloud.
import { describe, expect, test } from "bun:test";
import { autoscalerSettingsSchema } from "../../libs/config/autoscaler-section.ts";
import { type InstanceView, type PlannerInput, type PlannerMemo, plan } from "./planner.ts";
import { type PlannerSettings, plannerSettings } from "./planner-settings.ts";

const T0 = Date.parse("2026-11-30T12:00:00Z");
const CASES = 400;

function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

function randomSettings(r: (n: number) => number, unthrottled = false): PlannerSettings {
  return plannerSettings(
    autoscalerSettingsSchema.parse({
      capacity_per_instance: 1 + r(4),
      max_use_count: r(3) === 0 ? 0 : 1 + r(5),
      max_instances: r(4) === 0 ? 0 : 1 + r(20),
      scale_throttle: unthrottled ? { limit: -1 } : { limit: 1 + r(5), burst: 1 + r(10) },
      policy: [
        {
          idle_count: r(6),
          idle_time: `${r(10)}m`,
          scale_factor: r(3) / 2,
          scale_factor_limit: r(8),
        },
      ],
    }),
  );
}

function randomGroup(r: (n: number) => number, s: PlannerSettings): PlannerInput {
  const states = ["creating", "ready", "ready", "ready", "unhealthy", "deleting"] as const;
  const size = s.maxInstances > 0 ? r(s.maxInstances + 1) : r(25);
  const instances: InstanceView[] = [];
  for (let i = 0; i < size; i++) {
    const state = states[r(states.length)]!;
    const acquisitions = state === "ready" || state === "unhealthy" ? r(s.capacityPerInstance + 1) : 0;
    const cap = s.maxUseCount > 0 ? s.maxUseCount : 10;
    const useCount = Math.min(cap, acquisitions + r(cap + 1));
    instances.push({ id: `i${i}`, state, acquisitions, useCount, idleSinceMs: T0 - r(20) * 60_000 });
  }
  const pending = s.maxInstances > 0 ? r(Math.max(1, s.maxInstances - size + 1)) : r(4);
  return { instances, pending, reserved: r(6), memo: {} };
}

describe("planner properties", () => {
  test("never above max_instances: instances (deleting ones too) + pending + increase stay within the cap", () => {
    for (let seed = 1; seed <= CASES; seed++) {
      const r = prng(seed);
      const s = randomSettings(r);
      if (s.maxInstances === 0) continue;
      const g = randomGroup(r, s);
      const p = plan(g, s, T0);
      expect({ seed, total: g.instances.length + g.pending + p.increase }).toEqual({
        seed,
        total: Math.min(g.instances.length + g.pending + p.increase, s.maxInstances),
      });
    }
  });

  test("never removes an instance holding an acquisition, nor one already deleting", () => {
    for (let seed = 1; seed <= CASES; seed++) {
      const r = prng(seed);
      const s = randomSettings(r);
      const g = randomGroup(r, s);
      const byId = new Map(g.instances.map((i) => [i.id, i]));
      for (const id of plan(g, s, T0).remove) {
        const i = byId.get(id)!;
        expect({ seed, id, acquisitions: i.acquisitions, deleting: i.state === "deleting" }).toEqual({
          seed,
          id,
          acquisitions: 0,
          deleting: false,
        });
      }
    }
  });

  test("never below the idle target when under the cap: free slots kept or coming cover idle target + reservations", () => {
    for (let seed = 1; seed <= CASES; seed++) {
      const r = prng(seed);
      const s = randomSettings(r, true);
      const g = randomGroup(r, s);
      const p = plan(g, s, T0);
      const cap = s.maxInstances > 0 ? s.maxInstances : Number.POSITIVE_INFINITY;
      const used = g.instances.length + g.pending + p.increase;
      if (p.held !== undefined || used >= cap) continue;
      const removed = new Set(p.remove);
      let free = (g.pending + p.increase) * s.capacityPerInstance;
      for (const i of g.instances) {
        if (removed.has(i.id) || i.state === "deleting" || i.state === "unhealthy") continue;
        const left = s.maxUseCount > 0 ? Math.max(0, s.maxUseCount - i.useCount) : Number.POSITIVE_INFINITY;
        free += Math.min(s.capacityPerInstance - i.acquisitions, left);
      }
      expect({ seed, enough: free >= p.terms.idle_target + g.reserved }).toEqual({ seed, enough: true });
    }
  });

  test("converges in a simulated cloud: constant demand settles with nothing left to add or remove", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const r = prng(seed);
      const s = randomSettings(r);
      let g = randomGroup(r, s);
      let memo: PlannerMemo = {};
      let now = T0;
      let stable = 0;
      let next = 0;
      for (let tick = 0; tick < 200 && stable < 3; tick++) {
        const p = plan({ ...g, memo }, s, now);
        memo = p.memo;
        stable = p.increase === 0 && p.remove.length === 0 && g.pending === 0 ? stable + 1 : 0;
        // The cloud: deletions finish, pending instances boot and become ready, new ones are pending.
        const removed = new Set(p.remove);
        const kept = g.instances
          .filter((i) => i.state !== "deleting" && !removed.has(i.id))
          .map((i) => (i.state === "creating" ? { ...i, state: "ready" as const, idleSinceMs: now } : i));
        const booted = Array.from({ length: g.pending }, () => ({
          id: `n${next++}`,
          state: "ready" as const,
          acquisitions: 0,
          useCount: 0,
          idleSinceMs: now,
        }));
        g = {
          ...g,
          instances: [
            ...kept,
            ...booted,
            ...p.remove.map((id) => ({ ...removedView(id), state: "deleting" as const })),
          ],
          pending: p.increase,
        };
        now += 30_000;
      }
      expect({ seed, stable: stable >= 3 }).toEqual({ seed, stable: true });
    }
  });

  test("reaches zero when the idle policy allows: no demand, idle_count 0, idle_time passed", () => {
    for (let seed = 1; seed <= CASES; seed++) {
      const r = prng(seed);
      const s = randomSettings(r);
      for (const p of s.policies) p.idleCount = 0;
      for (const p of s.policies) p.scaleFactor = 0;
      const g = randomGroup(r, s);
      const idle = g.instances.map((i) => ({
        ...i,
        acquisitions: 0,
        state: i.state === "deleting" ? i.state : ("ready" as const),
      }));
      const p = plan({ ...g, instances: idle, pending: 0, reserved: 0 }, s, T0 + 3_600_000);
      expect({
        seed,
        kept: idle.length - p.remove.length - idle.filter((i) => i.state === "deleting").length,
        increase: p.increase,
      }).toEqual({
        seed,
        kept: 0,
        increase: 0,
      });
    }
  });
});

function removedView(id: string): InstanceView {
  return { id, state: "deleting", acquisitions: 0, useCount: 0, idleSinceMs: 0 };
}
