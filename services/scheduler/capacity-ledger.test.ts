import { describe, expect, test } from "bun:test";
import type { AutoscalerCapacity, Heartbeat } from "../../libs/messages/subjects.ts";
import { autoscalerRefusal, CapacityLedger } from "./capacity-ledger.ts";

const runners = new Map([
  ["r1", { key: "r1", name: "one", limit: 2, executor: "shell" }],
  ["r2", { key: "r2", name: "two", limit: 0, executor: "shell" }],
  ["rd", { key: "rd", name: "dock", limit: 0, executor: "docker" }],
]);

function hb(workerId: string, slots: number, running: Heartbeat["running"] = []): Heartbeat {
  return { workerId, slots, executors: ["shell"], running, draining: false, intervalMs: 1000, seq: 1 };
}

function lease(l: CapacityLedger, id: string, runnerKey: string, workerId: string) {
  l.leases.set(id, { id, runnerKey, workerId, pollerId: "p", expiresAt: 1e12 });
}

describe("capacity ledger", () => {
  test("concurrent caps leases and jobs of all runner entries together", () => {
    const l = new CapacityLedger(3, runners);
    l.heartbeat(hb("w1", 10), 0);
    lease(l, "a", "r1", "w1");
    l.jobs.set("j1", { jobKey: "j1", runnerKey: "r2", workerId: "w1", dispatched: true, since: 0 });
    expect(l.meshFull()).toBe(false);
    lease(l, "b", "r2", "w1");
    // The lease that took the last slot tells its poller (meshFull): the next ask is refused.
    expect(l.meshFull()).toBe(true);
    expect(l.decideLease("r2", 5)).toEqual({ granted: false, reason: "concurrent = 3 reached" });
    l.leases.delete("b");
    expect(l.meshFull()).toBe(false);
  });

  test("a job's end frees its slot at once, though the worker's last heartbeat still lists it", () => {
    const l = new CapacityLedger(1, runners);
    l.heartbeat(hb("w1", 10, [{ jobKey: "j1", runnerKey: "r2", jobId: 1, traceOffset: 0 }]), 0);
    l.jobs.set("j1", { jobKey: "j1", runnerKey: "r2", workerId: "w1", dispatched: true, since: 0 });
    expect(l.decideLease("r2", 5)).toEqual({ granted: false, reason: "concurrent = 1 reached" });
    l.jobEnded("w1", "j1");
    expect(l.usage().total).toBe(0);
    expect(l.decideLease("r2", 5)).toEqual({ granted: true, workerId: "w1" });
  });

  test("limit caps one runner entry while others still get slots", () => {
    const l = new CapacityLedger(10, runners);
    l.heartbeat(hb("w1", 10, [{ jobKey: "x", runnerKey: "r1", jobId: 1, traceOffset: 0 }]), 0);
    lease(l, "a", "r1", "w1");
    expect(l.decideLease("r1", 5)).toEqual({ granted: false, reason: 'limit = 2 of runner "one" reached' });
    expect(l.decideLease("r2", 5)).toEqual({ granted: true, workerId: "w1" });
  });

  test("request concurrency bounds leases in flight per runner entry", () => {
    const l = new CapacityLedger(10, runners);
    l.heartbeat(hb("w1", 10), 0);
    lease(l, "a", "r2", "w1");
    expect(l.decideLease("r2", 1).granted).toBe(false);
    expect(l.decideLease("r2", 2).granted).toBe(true);
  });

  test("worker slots bound leases; the worker with most free slots is picked; executors must match", () => {
    const l = new CapacityLedger(10, runners);
    l.heartbeat(hb("w1", 1), 0);
    l.heartbeat(hb("w2", 2), 0);
    expect(l.decideLease("r2", 9)).toEqual({ granted: true, workerId: "w2" });
    lease(l, "a", "r2", "w2");
    lease(l, "b", "r2", "w2");
    expect(l.decideLease("r2", 9)).toEqual({ granted: true, workerId: "w1" });
    lease(l, "c", "r2", "w1");
    expect(l.decideLease("r2", 9).granted).toBe(false);
    expect(l.decideLease("rd", 9)).toEqual({
      granted: false,
      reason: 'no worker with a free slot for executor "docker"',
    });
  });

  test("a job the worker stops listing frees its slot after a few heartbeats even if its event was lost", () => {
    const l = new CapacityLedger(1, runners);
    l.heartbeat(hb("w1", 1), 0);
    l.jobs.set("j1", { jobKey: "j1", runnerKey: "r2", workerId: "w1", dispatched: true, since: 0 });
    expect(l.decideLease("r2", 1).granted).toBe(false);
    expect(l.heartbeat(hb("w1", 1), 1000)).toEqual([]);
    expect(l.heartbeat(hb("w1", 1), 3500)).toEqual(["j1"]);
    expect(l.decideLease("r2", 1).granted).toBe(true);
  });

  test("a silent worker is reported lost once and leaves the book", () => {
    const l = new CapacityLedger(4, runners);
    l.heartbeat(hb("w1", 1), 0);
    l.heartbeat(hb("w2", 1), 4000);
    expect(l.takeLostWorkers(5500, 5000).map((w) => w.id)).toEqual(["w1"]);
    expect(l.takeLostWorkers(5600, 5000)).toEqual([]);
    expect([...l.workers.keys()]).toEqual(["w2"]);
  });

  test("a draining worker gets no new leases", () => {
    const l = new CapacityLedger(4, runners);
    l.heartbeat({ ...hb("w1", 4), draining: true }, 0);
    expect(l.decideLease("r2", 1).granted).toBe(false);
  });

  test("a reload changes the caps for new leases while running jobs keep their slots", () => {
    const l = new CapacityLedger(1, runners);
    l.heartbeat(hb("w1", 4, [{ jobKey: "x", runnerKey: "r2", jobId: 1, traceOffset: 0 }]), 0);
    expect(l.decideLease("r2", 4).granted).toBe(false);
    l.configure(3, runners);
    expect(l.decideLease("r2", 4).granted).toBe(true);
    l.configure(3, new Map([["r1", runners.get("r1")!]]));
    expect(l.decideLease("r2", 4)).toEqual({
      granted: false,
      reason: "runner r2 is not in the scheduler's config.toml",
    });
  });
});

describe("capacity ledger: autoscaled runner entries", () => {
  const cap = (over: Partial<AutoscalerCapacity>): AutoscalerCapacity => ({
    groupKey: "r2",
    autoscalerId: "a",
    free: 0,
    total: 0,
    acquired: 0,
    instances: 0,
    preemptive: true,
    maxSlots: 0,
    ...over,
  });

  test("preemptive mode: leases only against ready free slots of the group, counting jobs without an instance yet", () => {
    const l = new CapacityLedger(10, runners);
    l.heartbeat(hb("w1", 10), 0);
    l.autoscaled.set("r2", cap({ free: 1 }));
    expect(l.decideLease("r2", 5).granted).toBe(true);
    lease(l, "a", "r2", "w1");
    expect(l.decideLease("r2", 5)).toEqual({
      granted: false,
      reason:
        'runner "two": no ready autoscaled instance with a free slot (1 free, 1 promised; preemptive mode)',
    });
    // Other entries are not held back by the group.
    expect(l.decideLease("r1", 5).granted).toBe(true);
  });

  test("non-preemptive mode: leases up to max_instances × capacity_per_instance, even with nothing ready", () => {
    const l = new CapacityLedger(10, runners);
    l.heartbeat(hb("w1", 10), 0);
    l.autoscaled.set("r2", cap({ preemptive: false, maxSlots: 1 }));
    expect(l.decideLease("r2", 5).granted).toBe(true);
    lease(l, "a", "r2", "w1");
    expect(autoscalerRefusal(cap({ preemptive: false, maxSlots: 1 }), 1)).toContain(
      "the instance group is full",
    );
    expect(l.decideLease("r2", 5).granted).toBe(false);
  });

  test("a capacity report expires after its TTL: a dead autoscaler's free slots are promised to nobody", () => {
    const l = new CapacityLedger(10, runners);
    l.heartbeat(hb("w1", 10), 0);
    l.reportAutoscaled(cap({ free: 3, ttlMs: 15_000 }), 1_000);
    expect(l.decideLease("r2", 5, 16_000).granted).toBe(true);
    expect(l.decideLease("r2", 5, 16_001)).toEqual({
      granted: false,
      reason:
        'runner "two": no active autoscaler for the instance group (its last capacity report is 15 s old; reports live 15 s)',
    });
    // A fresh report (the standby took over) and leases flow again.
    l.reportAutoscaled(cap({ free: 3, ttlMs: 15_000 }), 20_000);
    expect(l.decideLease("r2", 5, 20_000).granted).toBe(true);
  });
});
