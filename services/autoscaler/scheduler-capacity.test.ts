// The scheduler's leases follow the capacity the autoscaler reports (issue 14): a real Scheduler
// and a real Autoscaler on the in-process bus, a worker's heartbeat offering the executor.
import { afterEach, describe, expect, test } from "bun:test";
import { createInprocBus } from "../../libs/bus/inproc-bus.ts";
import { autoscalerSettingsSchema } from "../../libs/config/autoscaler-section.ts";
import { MemoryInstanceGroup } from "../../libs/fleeting/memory-instance-group.ts";
import type { GitLabReporter } from "../../libs/gitlab/gitlab-reporter.ts";
import { createLogger } from "../../libs/log/logger.ts";
import { autoscalerCapacity, heartbeatOf, leaseAcquire } from "../../libs/messages/subjects.ts";
import { Scheduler } from "../scheduler/scheduler.ts";
import { Autoscaler } from "./autoscaler.ts";
import { plannerSettings } from "./planner-settings.ts";

const logger = createLogger({ service: "test", level: "silent" });
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

describe("scheduler leases and autoscaler capacity", () => {
  test("preemptive mode: no lease until an instance is ready, then one per ready free slot", async () => {
    const bus = createInprocBus({ logger });
    const scheduler = new Scheduler({
      bus,
      logger,
      concurrent: 10,
      runners: [{ key: "fleet", name: "fleet", limit: 0, executor: "docker-autoscaler" }],
      reporter: {} as GitLabReporter,
      leaseTtlMs: 60_000,
      workerLostAfterMs: 60_000,
      dispatchTimeoutMs: 60_000,
      pendingKeepaliveIntervalMs: 60_000,
    });
    await scheduler.start();
    stops.push(() => scheduler.stop());
    await bus.publish(heartbeatOf("w1"), {
      workerId: "w1",
      slots: 10,
      executors: ["docker-autoscaler"],
      running: [],
      draining: false,
      intervalMs: 60_000,
      seq: 1,
    });
    const reports: number[] = [];
    await bus.subscribe(autoscalerCapacity, (m) => {
      reports.push(m.data.free);
    });
    const autoscaler = new Autoscaler({
      bus,
      group: new MemoryInstanceGroup({ createDelayMs: 300 }),
      groupKey: "fleet",
      runnerName: "fleet",
      autoscalerId: "a",
      logger,
      settings: plannerSettings(
        autoscalerSettingsSchema.parse({
          update_interval: "1s",
          update_interval_when_expecting: "50ms",
          policy: [{ idle_count: 1, idle_time: "1h" }],
        }),
      ),
    });
    await autoscaler.start();
    stops.push(() => autoscaler.stop());
    const ask = () => bus.request(leaseAcquire, { runnerKey: "fleet", pollerId: "p", maxInFlight: 5 });

    for (let i = 0; i < 100 && reports.length === 0; i++) await Bun.sleep(5);
    expect(reports.at(-1)).toBe(0);
    const early = await ask();
    expect(early.granted).toBe(false);
    if (!early.granted) expect(early.reason).toContain("no ready autoscaled instance with a free slot");
    for (let i = 0; i < 300 && reports.at(-1) !== 1; i++) await Bun.sleep(10);
    expect((await ask()).granted).toBe(true);
    // One ready slot, one lease promised against it: the next request waits for the next instance.
    expect((await ask()).granted).toBe(false);
  });
});
