import { describe, expect, test } from "bun:test";
import { autoscalerSettingsSchema } from "../../libs/config/autoscaler-section.ts";
import { plannerSettings } from "./planner-settings.ts";
import { parseArrivals, simulate } from "./simulate.ts";

const START = Date.parse("2026-11-30T00:00:00Z");
const settings = (section: Record<string, unknown>) =>
  plannerSettings(
    autoscalerSettingsSchema.parse({
      update_interval: "30s",
      update_interval_when_expecting: "2s",
      ...section,
    }),
  );

describe("simulate", () => {
  test("parses at_s,duration_s with a header and names the bad line", () => {
    expect(parseArrivals("at_s,duration_s\n10,60\n\n5,30\n")).toEqual([
      { atS: 5, durationS: 30 },
      { atS: 10, durationS: 60 },
    ]);
    expect(() => parseArrivals("1,2\n3,x\n", "a.csv")).toThrow('a.csv:2: expected "at_s,duration_s"');
  });

  test("a warm pool trades idle instance-minutes for pickup latency", () => {
    const trace = Array.from({ length: 20 }, (_, i) => ({ atS: i * 600, durationS: 120 }));
    const cold = simulate(trace, settings({ policy: [{ idle_count: 0, idle_time: "1m" }] }), {
      bootS: 60,
      startMs: START,
    });
    const warm = simulate(trace, settings({ policy: [{ idle_count: 1, idle_time: "1m" }] }), {
      bootS: 60,
      startMs: START,
    });
    expect(cold.jobs).toBe(20);
    expect(warm.jobs).toBe(20);
    expect(cold.pickupP50S).toBeGreaterThanOrEqual(60);
    expect(warm.pickupP50S).toBe(0);
    expect(warm.idleInstanceMinutes).toBeGreaterThan(cold.idleInstanceMinutes);
  });

  test("a burst is provisioned in one tick, not one instance at a time", () => {
    const burst = Array.from({ length: 30 }, () => ({ atS: 0, durationS: 300 }));
    const r = simulate(burst, settings({ max_instances: 50 }), { bootS: 60, startMs: START, tailS: 600 });
    expect(r.pickupMaxS).toBe(60);
    expect(r.instancesCreated).toBe(30);
  });

  test("max_instances holds jobs in the queue instead of exceeding the cap", () => {
    const burst = Array.from({ length: 10 }, () => ({ atS: 0, durationS: 100 }));
    const r = simulate(burst, settings({ max_instances: 5 }), { bootS: 10, startMs: START, tailS: 600 });
    expect(r.peakInstances).toBeLessThanOrEqual(5);
    expect(r.jobs).toBe(10);
    expect(r.pickupMaxS).toBeGreaterThanOrEqual(100);
  });
});
