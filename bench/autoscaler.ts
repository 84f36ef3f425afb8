// Autoscaler planner figures (issue 14): planner time per tick over 10,000 instances (ceiling
// 5 ms), and `simulate` over a day-long job-arrival trace under a few policies.
// Usage: bun bench/autoscaler.ts                     (synthetic day, built-in policies)
//        bun bench/autoscaler.ts --trace arrivals.csv --config config.toml [--boot 60]
//        (replays the trace against every [[runners]] entry with [runners.autoscaler])
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { autoscalerSettingsSchema } from "../libs/config/autoscaler-section.ts";
import { loadConfig } from "../libs/config/index.ts";
import { type InstanceView, plan } from "../services/autoscaler/planner.ts";
import { type PlannerSettings, plannerSettings } from "../services/autoscaler/planner-settings.ts";
import { type Arrival, parseArrivals, simulate } from "../services/autoscaler/simulate.ts";

const { values } = parseArgs({
  options: { trace: { type: "string" }, config: { type: "string" }, boot: { type: "string", default: "60" } },
});
const START = Date.parse("2026-11-30T00:00:00Z");
const bootS = Number(values.boot);

function planTiming(): void {
  const s = plannerSettings(
    autoscalerSettingsSchema.parse({
      capacity_per_instance: 2,
      max_use_count: 50,
      max_instances: 20_000,
      policy: [
        { idle_count: 10, idle_time: "20m", scale_factor: 0.1, scale_factor_limit: 100 },
        { periods: ["* 9-17 * * mon-fri"], timezone: "Europe/Berlin", idle_count: 50, idle_time: "30m" },
      ],
    }),
  );
  const states = ["ready", "ready", "ready", "creating", "deleting"] as const;
  const instances: InstanceView[] = Array.from({ length: 10_000 }, (_, i) => ({
    id: `i-${i}`,
    state: states[i % states.length]!,
    acquisitions: i % 3 === 0 ? 0 : i % 3,
    useCount: i % 50,
    idleSinceMs: START - (i % 120) * 60_000,
  }));
  const input = { instances, pending: 20, reserved: 30, memo: {} };
  for (let i = 0; i < 50; i++) plan(input, s, START + i * 1000);
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    plan(input, s, START + i * 2000);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const p = (f: number) => times[Math.floor(f * (times.length - 1))]!.toFixed(2);
  console.log(
    `planner, 10,000 instances: p50 ${p(0.5)} ms, p95 ${p(0.95)} ms, max ${p(1)} ms per tick (ceiling 5 ms)`,
  );
}

/** A weekday: quiet night, a morning ramp, a lunch dip, an afternoon peak; seeded, so repeatable. */
function syntheticDay(): Arrival[] {
  let seed = 42;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const ratePerMin = (h: number) =>
    h < 7 ? 0.2 : h < 9 ? 2 + (h - 7) * 3 : h < 12 ? 8 : h < 13 ? 4 : h < 18 ? 10 : h < 21 ? 3 : 0.5;
  const out: Arrival[] = [];
  for (let m = 0; m < 24 * 60; m++) {
    const lambda = ratePerMin(m / 60);
    // Poisson arrivals in this minute, durations 1–15 min.
    let n = 0;
    for (let L = Math.exp(-lambda), pr = rand(); pr > L; pr *= rand()) n++;
    for (let k = 0; k < n; k++)
      out.push({ atS: m * 60 + Math.floor(rand() * 60), durationS: 60 + Math.floor(rand() * 840) });
  }
  return out;
}

function report(name: string, trace: Arrival[], s: PlannerSettings): void {
  const r = simulate(trace, s, { bootS, startMs: START });
  console.log(
    `${name.padEnd(44)} jobs ${String(r.jobs).padStart(5)}  instance-min ${String(r.instanceMinutes).padStart(6)}  idle-min ${String(r.idleInstanceMinutes).padStart(6)}  peak ${String(r.peakInstances).padStart(3)}  created ${String(r.instancesCreated).padStart(4)}  pickup p50 ${r.pickupP50S}s p95 ${r.pickupP95S}s max ${r.pickupMaxS}s`,
  );
}

planTiming();
if (values.trace) {
  const trace = parseArrivals(await readFile(values.trace, "utf8"), values.trace);
  if (!values.config) throw new Error("--trace needs --config config.toml (the policy to replay it against)");
  const { config } = await loadConfig(values.config);
  const entries = config.runners.filter((r) => r.autoscaler);
  if (entries.length === 0)
    throw new Error(`${values.config}: no [[runners]] entry has a [runners.autoscaler] table`);
  for (const r of entries) report(`runner "${r.name ?? r.runnerKey}"`, trace, plannerSettings(r.autoscaler!));
} else {
  const trace = syntheticDay();
  console.log(`simulate: synthetic weekday, ${trace.length} jobs, boot ${bootS} s, 1 slot per instance, UTC`);
  const base = { update_interval: "1m", update_interval_when_expecting: "2s", max_instances: 200 };
  const policies: [string, Record<string, unknown>][] = [
    ["idle_count 0, idle_time 5m", { policy: [{ idle_count: 0, idle_time: "5m" }] }],
    ["idle_count 5, idle_time 10m", { policy: [{ idle_count: 5, idle_time: "10m" }] }],
    [
      "idle 1 + scale_factor 0.2 (limit 10), 10m",
      { policy: [{ idle_count: 1, idle_time: "10m", scale_factor: 0.2, scale_factor_limit: 10 }] },
    ],
    [
      "idle 0 at night, 8 from 07-19 (periods)",
      {
        policy: [
          { idle_count: 0, idle_time: "5m" },
          { periods: ["* 7-18 * * *"], timezone: "UTC", idle_count: 8, idle_time: "10m" },
        ],
      },
    ],
    [
      "idle 5, max_use_count 1 (ephemeral)",
      { max_use_count: 1, policy: [{ idle_count: 5, idle_time: "10m" }] },
    ],
  ];
  for (const [name, section] of policies)
    report(name, trace, plannerSettings(autoscalerSettingsSchema.parse({ ...base, ...section })));
}
