// `runmesh autoscaler simulate --trace arrivals.csv --config config.toml`: replays a job-arrival
// trace against the [runners.autoscaler] policy of one runner entry with the service's own planner
// (simulate.ts) and prints what it would cost and how long jobs would wait. Reads files and
// prints; the figures come from simulate(), their wording from formatSimulation().
import { readFile } from "node:fs/promises";
import type { Config } from "../../libs/config/index.ts";
import { autoscaledRunners } from "./main.ts";
import { plannerSettings } from "./planner-settings.ts";
import { parseArrivals, type SimulationReport, simulate } from "./simulate.ts";

export interface SimulateArgs {
  trace?: string;
  config?: string;
  name?: string;
  /** Seconds an instance takes from Increase to ready (default 60). */
  boot?: string;
  /** When the trace starts (ISO 8601), for the policies' periods (default: today 00:00 UTC). */
  start?: string;
}

export interface SimulateIo {
  loadConfig(path: string): Promise<{ config: Config }>;
  out(line: string): void;
  now?: () => number;
}

/** The printed report: one figure a line, idle cost as minutes and as a share of all. */
export function formatSimulation(
  r: SimulationReport,
  about: { runner: string; trace: string; bootS: number; startIso: string },
): string[] {
  const idleShare = r.instanceMinutes > 0 ? Math.round((100 * r.idleInstanceMinutes) / r.instanceMinutes) : 0;
  return [
    `runner "${about.runner}": ${r.jobs} jobs from ${about.trace}, trace start ${about.startIso}, instances ready ${about.bootS} s after they are asked for`,
    `instance-minutes        ${r.instanceMinutes}`,
    `idle instance-minutes   ${r.idleInstanceMinutes} (${idleShare}% of instance-minutes: the idle cost)`,
    `peak instances          ${r.peakInstances}`,
    `instances created       ${r.instancesCreated}`,
    `pickup latency p50      ${r.pickupP50S} s`,
    `pickup latency p95      ${r.pickupP95S} s`,
    `pickup latency max      ${r.pickupMaxS} s`,
  ];
}

function startOfUtcDay(ms: number): number {
  return ms - (ms % 86_400_000);
}

export async function simulateCommand(args: SimulateArgs, io: SimulateIo): Promise<number> {
  if (!args.trace)
    throw new Error("--trace is required: a CSV of job arrivals, one `at_s,duration_s` line per job");
  if (!args.config) throw new Error("--config is required: the config.toml whose policy is replayed");
  const bootS = args.boot === undefined ? 60 : Number(args.boot);
  if (!Number.isFinite(bootS) || bootS < 0)
    throw new Error(`--boot: expected seconds (a non-negative number), got "${args.boot}"`);
  const startMs = args.start === undefined ? startOfUtcDay((io.now ?? Date.now)()) : Date.parse(args.start);
  if (Number.isNaN(startMs))
    throw new Error(`--start: expected an ISO 8601 time such as 2026-11-30T00:00:00Z, got "${args.start}"`);

  const { config } = await io.loadConfig(args.config);
  const entries = autoscaledRunners(config);
  const nameOf = (r: (typeof entries)[number]) => r.name ?? r.runnerKey;
  if (entries.length === 0)
    throw new Error(
      `${args.config}: no [[runners]] entry with executor "docker-autoscaler" or "instance" has a [runners.autoscaler] table`,
    );
  const chosen = args.name ? entries.filter((r) => nameOf(r) === args.name) : entries;
  if (chosen.length === 0)
    throw new Error(
      `--name ${args.name}: no autoscaled runner entry of that name in ${args.config} (there are ${entries.map((r) => `"${nameOf(r)}"`).join(", ")})`,
    );
  if (chosen.length > 1)
    throw new Error(
      `${args.config} has ${chosen.length} autoscaled runner entries (${chosen.map((r) => `"${nameOf(r)}"`).join(", ")}): pick one with --name`,
    );
  const runner = chosen[0]!;
  let csv: string;
  try {
    csv = await readFile(args.trace, "utf8");
  } catch (e) {
    throw new Error(`--trace ${args.trace}: cannot read it (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const trace = parseArrivals(csv, args.trace);
  const report = simulate(trace, plannerSettings(runner.autoscaler!), { bootS, startMs });
  const lines = formatSimulation(report, {
    runner: nameOf(runner),
    trace: args.trace,
    bootS,
    startIso: new Date(startMs).toISOString(),
  });
  for (const line of lines) io.out(line);
  return 0;
}
