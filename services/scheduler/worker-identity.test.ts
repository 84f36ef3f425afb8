// The scheduler takes a worker's identity from the subject its message came on (only that
// worker's NATS identity may publish there: deploy/nats/identities.conf), never from the message:
// a heartbeat or job event naming another worker is dropped with a warning. Real scheduler on the
// in-process bus; the subjects are the ones NATS permissions are written for.
import { afterEach, expect, test } from "bun:test";
import { createInprocBus } from "../../libs/bus/inproc-bus.ts";
import type { GitLabReporter } from "../../libs/gitlab/gitlab-reporter.ts";
import { createLogger } from "../../libs/log/logger.ts";
import { heartbeatOf } from "../../libs/messages/subjects.ts";
import { Scheduler } from "./scheduler.ts";

let scheduler: Scheduler | undefined;
afterEach(async () => {
  await scheduler?.stop();
  scheduler = undefined;
});

test("a heartbeat on worker-2's subject naming worker-9 is dropped; worker-1's own counts", async () => {
  const bus = createInprocBus();
  const warnings: string[] = [];
  scheduler = new Scheduler({
    bus,
    logger: createLogger({
      service: "scheduler",
      level: "warn",
      destination: { write: (l: string) => warnings.push(JSON.parse(l).msg) },
    }),
    concurrent: 4,
    runners: [{ key: "r", name: "r", limit: 0, executor: "shell" }],
    reporter: {} as GitLabReporter,
    leaseTtlMs: 1000,
    workerLostAfterMs: 60_000,
    dispatchTimeoutMs: 60_000,
    pendingKeepaliveIntervalMs: 60_000,
    tickMs: 10,
  });
  await scheduler.start();
  const beat = (subjectOf: string, workerId: string, slots: number) =>
    bus.publish(heartbeatOf(subjectOf), {
      workerId,
      slots,
      executors: ["shell"],
      running: [],
      draining: false,
      intervalMs: 100,
      seq: 1,
    });
  const workers = () => scheduler!.capacityView().workers.map((w) => [w.id, w.slots]);
  await beat("worker-2", "worker-9", 3);
  // Delivered in order: once worker-1's own beat counts, the forged one was seen before it.
  await beat("worker-1", "worker-1", 2);
  for (let i = 0; i < 200 && workers().length === 0; i++) await Bun.sleep(10);
  expect(workers()).toEqual([["worker-1", 2]]);
  expect(warnings).toContain('worker "worker-2" sent a message naming worker "worker-9"; ignored');
  await bus.close();
});
