import { describe, expect, test } from "bun:test";
import { createInprocBus } from "../../bus/inproc-bus.ts";
import { autoscalerAcquireRpc, autoscalerReleaseRpc } from "../../messages/subjects.ts";
import { acquireInstance, InstanceAcquireTimeoutError, releaseInstance } from "./instance-acquisition.ts";

const fast = { minRetryMs: 5, maxRetryMs: 20, requestTimeoutMs: 500 };

describe("acquireInstance", () => {
  test("asks again on its own worker's subjects with the same key until a slot comes, and releases by that key", async () => {
    const bus = createInprocBus();
    const asked: { key: string; waitMs: number }[] = [];
    await bus.serve(autoscalerAcquireRpc("g1", "w1"), (m) => {
      asked.push(m.data);
      return asked.length < 3
        ? { acquired: false as const, reason: "no ready instance", retryAfterMs: 1 }
        : {
            acquired: true as const,
            instanceId: "i-7",
            connectInfo: { id: "i-7", internalAddr: "127.0.0.1:2" },
          };
    });
    const released: string[] = [];
    await bus.serve(autoscalerReleaseRpc("g1", "w1"), (m) => {
      released.push(m.data.key);
      return { released: true };
    });
    const got = await acquireInstance({
      bus,
      groupKey: "g1",
      key: "job-1",
      workerId: "w1",
      timeoutMs: 5_000,
      signal: new AbortController().signal,
      runnerName: "r",
      ...fast,
    });
    expect(got.instanceId).toBe("i-7");
    expect(asked.map((a) => a.key)).toEqual(["job-1", "job-1", "job-1"]);
    // The wait it announces shrinks with the time left.
    expect(asked.every((a) => a.waitMs > 0 && a.waitMs <= 5_000)).toBe(true);
    expect(await releaseInstance(bus, "g1", "w1", "job-1")).toEqual({ released: true });
    expect(released).toEqual(["job-1"]);
  });

  test("gives up after instance_acquire_timeout with the autoscaler's last reason; no autoscaler is retried too", async () => {
    const bus = createInprocBus();
    let calls = 0;
    const err = await acquireInstance({
      bus,
      groupKey: "nobody",
      key: "job-2",
      workerId: "w1",
      timeoutMs: 150,
      signal: new AbortController().signal,
      runnerName: "fleet",
      ...fast,
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(InstanceAcquireTimeoutError);
    expect((err as Error).message).toContain(
      'runner "fleet": unable to acquire instance within the configured timeout',
    );
    expect((err as Error).message).toContain("no service answers");
    await bus.serve(autoscalerAcquireRpc("busy", "*"), () => {
      calls++;
      return { acquired: false as const, reason: "max_instances reached", retryAfterMs: 1 };
    });
    const busy = await acquireInstance({
      bus,
      groupKey: "busy",
      key: "job-3",
      workerId: "w1",
      timeoutMs: 150,
      signal: new AbortController().signal,
      runnerName: "fleet",
      ...fast,
    }).catch((e: Error) => e);
    expect((busy as Error).message).toContain("last answer: max_instances reached");
    expect(calls).toBeGreaterThan(1);
  });

  test("a canceled job stops asking", async () => {
    const bus = createInprocBus();
    let calls = 0;
    await bus.serve(autoscalerAcquireRpc("g", "*"), () => {
      calls++;
      return { acquired: false as const, reason: "none", retryAfterMs: 10_000 };
    });
    const ac = new AbortController();
    const p = acquireInstance({
      bus,
      groupKey: "g",
      key: "k",
      workerId: "w1",
      timeoutMs: 60_000,
      signal: ac.signal,
      runnerName: "r",
    });
    while (calls === 0) await Bun.sleep(5);
    ac.abort();
    expect(((await p.catch((e: Error) => e)) as Error).message).toContain("the job was canceled");
    expect(calls).toBe(1);
  });

  test("a refusal (another worker holds the key) ends the wait at once, naming the runner and the holder", async () => {
    const bus = createInprocBus();
    let calls = 0;
    await bus.serve(autoscalerAcquireRpc("g", "w2"), () => {
      calls++;
      return {
        acquired: false as const,
        reason: 'worker "w2" may not acquire acquisition "k": worker "w1" holds it',
        retryAfterMs: 0,
        refused: true,
      };
    });
    const err = await acquireInstance({
      bus,
      groupKey: "g",
      key: "k",
      workerId: "w2",
      timeoutMs: 60_000,
      signal: new AbortController().signal,
      runnerName: "fleet",
      ...fast,
    }).catch((e: Error) => e);
    expect(err).not.toBeInstanceOf(InstanceAcquireTimeoutError);
    expect((err as Error).message).toBe(
      'runner "fleet": acquiring an instance: worker "w2" may not acquire acquisition "k": worker "w1" holds it',
    );
    expect(calls).toBe(1);
  });
});
