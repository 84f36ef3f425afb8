// A runner entry whose executor no live worker offers: a warning after start (and after each
// reload), an info line while it lasts, and a line when a worker serves it again (issue 7,
// defect 3). Real scheduler on the in-process bus; heartbeats as workers publish them.
import { afterEach, describe, expect, test } from "bun:test";
import { createInprocBus } from "../../libs/bus/inproc-bus.ts";
import type { GitLabReporter } from "../../libs/gitlab/gitlab-reporter.ts";
import { createLogger } from "../../libs/log/logger.ts";
import { heartbeatOf } from "../../libs/messages/subjects.ts";
import { CapacityLedger } from "./capacity-ledger.ts";
import { Scheduler } from "./scheduler.ts";

const runner = (key: string, executor: string) => ({ key, name: `entry-${key}`, limit: 0, executor });

describe("CapacityLedger.unservedRunners", () => {
  test.each([
    [[], ["r-shell", "r-docker"]],
    [[["shell"]], ["r-docker"]],
    [[["shell"], ["docker", "ssh"]], []],
  ])("workers offering %j leave %j unserved", (offers, unserved) => {
    const l = new CapacityLedger(
      4,
      new Map([runner("r-shell", "shell"), runner("r-docker", "docker")].map((r) => [r.key, r])),
    );
    for (const [i, executors] of offers.entries()) {
      l.heartbeat(
        { workerId: `w${i}`, slots: 1, executors, running: [], draining: false, intervalMs: 100, seq: 1 },
        0,
      );
    }
    expect(l.unservedRunners().map((r) => r.key)).toEqual(unserved);
  });
});

let scheduler: Scheduler | undefined;
afterEach(async () => {
  await scheduler?.stop();
  scheduler = undefined;
});

describe("scheduler", () => {
  test("warns once, reminds at info while the entry is unserved, and says when a worker serves it", async () => {
    const bus = createInprocBus();
    const lines: { level: string; msg: string; runner?: string; executor?: string }[] = [];
    const logger = createLogger({
      service: "scheduler",
      level: "debug",
      destination: { write: (l: string) => lines.push(JSON.parse(l)) },
    });
    scheduler = new Scheduler({
      bus,
      logger,
      concurrent: 2,
      runners: [runner("a", "shell"), runner("b", "docker")],
      // Never called: no job is accepted in this test.
      reporter: {} as GitLabReporter,
      leaseTtlMs: 1000,
      // Checks start after this quiet period; the worker beats far more often.
      workerLostAfterMs: 100,
      dispatchTimeoutMs: 60_000,
      pendingKeepaliveIntervalMs: 60_000,
      unservedReminderMs: 50,
      tickMs: 10,
    });
    await scheduler.start();
    const beat = (executors: string[], seq: number) =>
      bus.publish(heartbeatOf("w"), {
        workerId: "w",
        slots: 1,
        executors,
        running: [],
        draining: false,
        intervalMs: 100,
        seq,
      });
    const about = (level: string, runnerName: string) =>
      lines.filter(
        (l) => l.level === level && l.runner === runnerName && l.msg.includes("no live worker offers"),
      );
    for (let i = 0; i < 200 && about("info", "entry-b").length < 2; i++) {
      await beat(["shell"], i + 2);
      await Bun.sleep(10);
    }
    expect(about("warn", "entry-b")).toHaveLength(1);
    expect(about("warn", "entry-b")[0]).toMatchObject({ executor: "docker" });
    expect(about("warn", "entry-b")[0]!.msg).toContain(
      'runner "entry-b": no live worker offers executor "docker"',
    );
    expect(about("info", "entry-b").length).toBeGreaterThanOrEqual(2);
    expect(about("warn", "entry-a")).toHaveLength(0);

    for (let i = 0; i < 100 && !lines.some((l) => l.msg.includes('offers executor "docker" again')); i++) {
      await beat(["shell", "docker"], 1000 + i);
      await Bun.sleep(10);
    }
    expect(
      lines.some((l) => l.runner === "entry-b" && l.msg.includes('offers executor "docker" again')),
    ).toBe(true);
    const reminders = about("info", "entry-b").length;
    for (let i = 0; i < 20; i++) {
      await beat(["shell", "docker"], 2000 + i);
      await Bun.sleep(10);
    }
    expect(about("info", "entry-b").length).toBe(reminders);
  });
});
