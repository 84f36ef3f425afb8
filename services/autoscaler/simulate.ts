// `simulate`: replays a job-arrival trace against an autoscaler policy with the real planner and
// instance book, in simulated time (1 s steps, instances boot after `bootS`), and reports what it
// would cost and how long jobs would wait: instance-minutes, idle instance-minutes, pickup latency.
// Pure: trace and settings in, figures out; the same code path as the service's decisions.
import type { AutoscalerGroupState } from "../../libs/messages/subjects.ts";
import { acquireSlot, emptyBook, plannerViews, releaseSlot } from "./instance-book.ts";
import { plan } from "./planner.ts";
import type { PlannerSettings } from "./planner-settings.ts";

export interface Arrival {
  /** Seconds from the trace's start. */
  atS: number;
  durationS: number;
}

/** `at_s,duration_s` per line; a header line and blank lines are skipped. */
export function parseArrivals(csv: string, source = "trace"): Arrival[] {
  const out: Arrival[] = [];
  csv.split("\n").forEach((line, n) => {
    const t = line.trim();
    if (t === "" || t.startsWith("#") || /^[a-z_]/i.test(t)) return;
    const [at, dur] = t.split(",").map((x) => Number(x.trim()));
    if (!Number.isFinite(at) || !Number.isFinite(dur) || at! < 0 || dur! < 0) {
      throw new Error(
        `${source}:${n + 1}: expected "at_s,duration_s" (two non-negative numbers), got ${JSON.stringify(t)}`,
      );
    }
    out.push({ atS: at!, durationS: dur! });
  });
  return out.sort((a, b) => a.atS - b.atS);
}

export interface SimulationReport {
  jobs: number;
  instanceMinutes: number;
  idleInstanceMinutes: number;
  peakInstances: number;
  instancesCreated: number;
  pickupP50S: number;
  pickupP95S: number;
  pickupMaxS: number;
}

export function simulate(
  arrivals: readonly Arrival[],
  s: PlannerSettings,
  opts: { bootS: number; startMs: number; tailS?: number },
): SimulationReport {
  const endS =
    (arrivals.at(-1)?.atS ?? 0) + Math.max(0, ...arrivals.map((a) => a.durationS)) + (opts.tailS ?? 3600);
  let book: AutoscalerGroupState = emptyBook(opts.startMs);
  const readyAt = new Map<string, number>();
  const goneAt = new Map<string, number>();
  const running: { key: string; endS: number }[] = [];
  const waiting: { key: string; atS: number }[] = [];
  const pickups: number[] = [];
  let next = 0;
  let created = 0;
  let arrivalIdx = 0;
  let nextPlanS = 0;
  let instanceS = 0;
  let idleS = 0;
  let peak = 0;
  for (let t = 0; t <= endS; t++) {
    const nowMs = opts.startMs + t * 1000;
    // The cloud: boots and deletions complete.
    book = {
      ...book,
      instances: book.instances
        .filter((i) => !(i.state === "deleting" && (goneAt.get(i.id) ?? 0) <= t))
        .map((i) =>
          i.state === "creating" && (readyAt.get(i.id) ?? 0) <= t
            ? { ...i, state: "ready" as const, idleSinceMs: nowMs }
            : i,
        ),
    };
    for (let k = running.length - 1; k >= 0; k--) {
      if (running[k]!.endS <= t) {
        book = releaseSlot(book, running[k]!.key, nowMs).book;
        running.splice(k, 1);
        nextPlanS = Math.min(nextPlanS, t);
      }
    }
    let arrived = false;
    while (arrivalIdx < arrivals.length && arrivals[arrivalIdx]!.atS <= t) {
      waiting.push({ key: `j${arrivalIdx}`, atS: arrivals[arrivalIdx]!.atS });
      arrivalIdx++;
      arrived = true;
    }
    for (let k = 0; k < waiting.length; ) {
      const got = acquireSlot(book, waiting[k]!.key, s);
      if (!got) break;
      book = got.book;
      const w = waiting.splice(k, 1)[0]!;
      pickups.push(t - w.atS);
      // As the service: an acquisition brings the next tick forward to update_interval_when_expecting.
      nextPlanS = Math.min(nextPlanS, t + Math.max(1, Math.round(s.updateIntervalWhenExpectingMs / 1000)));
      running.push({ key: w.key, endS: t + arrivals[Number(w.key.slice(1))]!.durationS });
    }
    // The autoscaler: a tick when due, or at once when a job found no slot (as the service does).
    if (t >= nextPlanS || (arrived && waiting.length > 0)) {
      const p = plan(
        { instances: plannerViews(book), pending: 0, reserved: waiting.length, memo: book.memo },
        s,
        nowMs,
      );
      const removed = new Set(p.remove);
      book = {
        ...book,
        memo: p.memo,
        instances: book.instances.map((i) => (removed.has(i.id) ? { ...i, state: "deleting" as const } : i)),
      };
      for (const id of p.remove) goneAt.set(id, t + 1);
      for (let k = 0; k < p.increase; k++) {
        const id = `s-${next++}`;
        created++;
        readyAt.set(id, t + opts.bootS);
        book.instances.push({
          id,
          state: "creating",
          acquisitions: [],
          useCount: 0,
          idleSinceMs: nowMs,
          createdAtMs: nowMs,
        });
      }
      nextPlanS = t + Math.max(1, Math.round(p.nextUpdateMs / 1000));
    }
    instanceS += book.instances.length;
    idleS += book.instances.filter((i) => i.state === "ready" && i.acquisitions.length === 0).length;
    peak = Math.max(peak, book.instances.length);
  }
  const sorted = pickups.slice().sort((a, b) => a - b);
  const q = (f: number) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))]! : 0;
  return {
    jobs: pickups.length,
    instanceMinutes: Math.round(instanceS / 60),
    idleInstanceMinutes: Math.round(idleS / 60),
    peakInstances: peak,
    instancesCreated: created,
    pickupP50S: q(0.5),
    pickupP95S: q(0.95),
    pickupMaxS: sorted.at(-1) ?? 0,
  };
}
