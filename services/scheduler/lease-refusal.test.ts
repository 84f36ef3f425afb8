// Every refusal the real ledger gives folds into its own label value (this breaks when the
// ledger's wording changes without lease-refusal.ts following).
import { describe, expect, test } from "bun:test";
import { type LeaseRefusal, leaseRefusal } from "../../libs/messages/lease-refusal.ts";
import type { Heartbeat } from "../../libs/messages/subjects.ts";
import { CapacityLedger } from "./capacity-ledger.ts";

const runners = new Map([
  ["r1", { key: "r1", name: "one", limit: 1, executor: "shell" }],
  ["rd", { key: "rd", name: "dock", limit: 0, executor: "docker" }],
]);

function hb(slots: number): Heartbeat {
  return {
    workerId: "w1",
    slots,
    executors: ["shell"],
    running: [],
    draining: false,
    intervalMs: 1000,
    seq: 1,
  };
}

function refusal(setup: (l: CapacityLedger) => void, runnerKey: string, maxInFlight = 5): string {
  const l = new CapacityLedger(2, runners);
  l.heartbeat(hb(10), 0);
  setup(l);
  const d = l.decideLease(runnerKey, maxInFlight);
  if (d.granted) throw new Error("expected a refusal");
  return d.reason;
}

const lease = (l: CapacityLedger, id: string, runnerKey: string) =>
  l.leases.set(id, { id, runnerKey, workerId: "w1", pollerId: "p", expiresAt: 1e12 });

describe("lease refusal label", () => {
  const cases: [string, () => string, LeaseRefusal][] = [
    ["runner entry unknown to the scheduler", () => refusal(() => {}, "nope"), "unknown_runner"],
    [
      "request_concurrency reached",
      () => refusal((l) => lease(l, "a", "r1"), "r1", 1),
      "request_concurrency",
    ],
    [
      "concurrent reached",
      () =>
        refusal((l) => {
          lease(l, "a", "rd");
          lease(l, "b", "rd");
        }, "r1"),
      "concurrent",
    ],
    ["limit reached", () => refusal((l) => lease(l, "a", "r1"), "r1"), "limit"],
    ["no worker runs the executor", () => refusal(() => {}, "rd"), "no_worker"],
    [
      "the autoscaled group has no ready free slot",
      () =>
        refusal((l) => {
          l.autoscaled.set("r1", {
            groupKey: "r1",
            autoscalerId: "a",
            free: 0,
            total: 0,
            acquired: 0,
            instances: 0,
            preemptive: true,
            maxSlots: 0,
          });
        }, "r1"),
      "autoscaler",
    ],
    [
      "the autoscaler's last capacity report expired",
      () => {
        const l = new CapacityLedger(2, runners);
        l.heartbeat(hb(10), 0);
        l.reportAutoscaled(
          {
            groupKey: "r1",
            autoscalerId: "a",
            free: 5,
            total: 5,
            acquired: 0,
            instances: 5,
            preemptive: true,
            maxSlots: 0,
            ttlMs: 1_000,
          },
          0,
        );
        const d = l.decideLease("r1", 5, 2_000);
        if (d.granted) throw new Error("expected a refusal");
        return d.reason;
      },
      "autoscaler",
    ],
    ["anything else", () => "the moon is full", "other"],
  ];
  for (const [name, reason, want] of cases) test(name, () => expect(leaseRefusal(reason())).toBe(want));
});
