import { describe, expect, test } from "bun:test";
import { readinessReport } from "./readiness.ts";

describe("/readyz verdict", () => {
  const cases: [string, Parameters<typeof readinessReport>[0], 200 | 503, string][] = [
    ["no tier yet", [], 503, "not ready: no tier started yet\n"],
    ["one ready tier", [{ tier: "poller", ready: true }], 200, "ready\npoller: ready\n"],
    [
      "one tier not ready makes the process not ready",
      [
        { tier: "scheduler", ready: true },
        { tier: "worker", ready: false, why: "no heartbeat sent for 3 s" },
      ],
      503,
      "not ready\nscheduler: ready\nworker: not ready: no heartbeat sent for 3 s\n",
    ],
  ];
  for (const [name, tiers, status, body] of cases)
    test(name, () => expect(readinessReport(tiers)).toEqual({ status, body }));
});
