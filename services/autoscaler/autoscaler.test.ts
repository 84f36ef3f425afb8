// The autoscaler service against the in-memory instance group: on the in-process bus for the
// all-in-one (state_storage across restarts), and two autoscalers on a real nats-server for the
// standby's takeover.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bus } from "../../libs/bus/bus.ts";
import { createInprocBus } from "../../libs/bus/inproc-bus.ts";
import { connectNatsBus } from "../../libs/bus/nats-bus.ts";
import { autoscalerSettingsSchema } from "../../libs/config/autoscaler-section.ts";
import { MemoryInstanceGroup } from "../../libs/fleeting/memory-instance-group.ts";
import { createLogger } from "../../libs/log/logger.ts";
import {
  autoscalerAcquireRpc,
  autoscalerCapacity,
  autoscalerReleaseRpc,
} from "../../libs/messages/subjects.ts";
import { type NatsServer, startNatsServer } from "../../tests/infra/nats-server.ts";
import { Autoscaler, type AutoscalerOptions } from "./autoscaler.ts";
import { sealedJobs } from "./job-binding.ts";
import { plannerSettings } from "./planner-settings.ts";
import { storeSealedRecord } from "./sealed-records-for-tests.ts";

const logger = createLogger({ service: "autoscaler-test", level: "silent" });
const FAST = { update_interval: "100ms", update_interval_when_expecting: "20ms" };

function settings(section: Record<string, unknown>) {
  return plannerSettings(autoscalerSettingsSchema.parse({ ...FAST, ...section }));
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await Bun.sleep(10);
  }
}

function autoscaler(o: Partial<AutoscalerOptions> & Pick<AutoscalerOptions, "bus" | "group" | "settings">) {
  return new Autoscaler({
    groupKey: "g1",
    runnerName: "auto",
    autoscalerId: "a1",
    logger,
    leaseTtlMs: 600,
    ...o,
  });
}

const readyCount = (a: Autoscaler) => a.snapshot().instances.filter((i) => i.state === "ready").length;
const live = (g: MemoryInstanceGroup) => g.list().filter((i) => i.state !== "deleting").length;

describe("autoscaler service (in-process bus)", () => {
  test("keeps idle_count slots ready, serves acquire/release and reports capacity", async () => {
    const bus = createInprocBus({ logger });
    const group = new MemoryInstanceGroup();
    const caps: number[] = [];
    await bus.subscribe(autoscalerCapacity, (m) => {
      caps.push(m.data.free);
    });
    const a = autoscaler({
      bus,
      group,
      settings: settings({ capacity_per_instance: 2, policy: [{ idle_count: 3, idle_time: "1h" }] }),
    });
    await a.start();
    await until("two instances are ready", () => readyCount(a) === 2);
    expect(group.calls.filter((c) => c.op === "increase")).toEqual([{ op: "increase", arg: 2 }]);
    const got = await bus.request(autoscalerAcquireRpc("g1", "w1"), { key: "job-1", waitMs: 1000 });
    expect(got.acquired).toBe(true);
    if (got.acquired) expect(got.connectInfo.id).toBe(got.instanceId);
    await until("capacity shows 3 free slots", () => caps.at(-1) === 3);
    await Bun.sleep(150);
    expect(readyCount(a)).toBe(2);
    // A second job leaves 2 free slots, below the idle target of 3: a third instance comes.
    expect(
      (await bus.request(autoscalerAcquireRpc("g1", "w1"), { key: "job-2", waitMs: 1000 })).acquired,
    ).toBe(true);
    await until("a third instance is ready", () => readyCount(a) === 3);
    expect(await bus.request(autoscalerReleaseRpc("g1", "w1"), { key: "job-1" })).toEqual({ released: true });
    await a.stop();
    await bus.close();
  });

  test("while active its capacity report is said again within every TTL; once dead, never", async () => {
    const bus = createInprocBus({ logger });
    const reports: { ttlMs?: number }[] = [];
    await bus.subscribe(autoscalerCapacity, (m) => {
      reports.push(m.data);
    });
    const a = autoscaler({ bus, group: new MemoryInstanceGroup(), settings: settings({}), leaseTtlMs: 300 });
    await a.start();
    // Nothing changes in the group (no idle target), yet the report keeps coming with its TTL.
    const before = reports.length;
    await Bun.sleep(900);
    expect(reports.length - before).toBeGreaterThanOrEqual(3);
    expect(reports.every((r) => r.ttlMs === 300)).toBe(true);
    a.abandon();
    await Bun.sleep(100);
    const atDeath = reports.length;
    await Bun.sleep(900);
    expect(reports.length).toBe(atDeath);
    await bus.close();
  });

  test.each([
    [3, 0],
    [0, 2],
  ])(
    "delete_instances_on_shutdown after a failed Decrease: %i shutdown_deletion_retries leave %i instances",
    async (retries, left) => {
      const bus = createInprocBus({ logger });
      // A cloud whose first Decrease fails outright (an API hiccup), later ones work.
      const group = new (class extends MemoryInstanceGroup {
        failedOnce = false;
        override async decrease(ids: readonly string[]) {
          if (this.failedOnce) return super.decrease(ids);
          this.failedOnce = true;
          return { succeeded: [], error: new Error("503 from the cloud API") };
        }
      })();
      const a = autoscaler({
        bus,
        group,
        settings: settings({
          delete_instances_on_shutdown: true,
          shutdown_deletion_interval: "20ms",
          shutdown_deletion_retries: retries,
          policy: [{ idle_count: 2, idle_time: "1h" }],
        }),
      });
      await a.start();
      await until("two instances are ready", () => readyCount(a) === 2);
      await a.stop();
      await group.update(() => {});
      expect(group.list().length).toBe(left);
      await bus.close();
    },
  );

  test("an instance whose heartbeat fails is skipped, and replaced after failure_threshold failures in a row", async () => {
    const bus = createInprocBus({ logger });
    const group = new MemoryInstanceGroup();
    const a = autoscaler({
      bus,
      group,
      settings: settings({ failure_threshold: 2, policy: [{ idle_count: 2, idle_time: "1h" }] }),
    });
    await a.start();
    await until("two instances are ready", () => readyCount(a) === 2);
    const [bad, good] = a
      .snapshot()
      .instances.map((i) => i.id)
      .sort();
    group.markUnhealthy(bad!, "ssh: connection refused");
    for (const key of ["job-1", "job-2"]) {
      const got = await bus.request(autoscalerAcquireRpc("g1", "w1"), { key, waitMs: 1000 });
      expect(got.acquired && got.instanceId).toBe(good!);
      await bus.request(autoscalerReleaseRpc("g1", "w1"), { key });
    }
    await until("the failing instance is deleted", () =>
      group.calls.some((c) => c.op === "decrease" && (c.arg as string[]).includes(bad!)),
    );
    // Two healthy ready instances again (a third may have come for the idle target meanwhile).
    await until("the idle target is met without the failing instance", () => readyCount(a) >= 2);
    expect(a.snapshot().instances.find((i) => i.id === bad)?.state ?? "gone").not.toBe("ready");
    await a.stop();
    await bus.close();
  });

  test("instance_acquire_timeout: a job waiting for an instance stops counting as demand after it, whatever it asked for", async () => {
    const bus = createInprocBus({ logger });
    let view: (() => { tasks: Record<string, number> } | undefined) | undefined;
    const a = autoscaler({
      bus,
      // Instances that never finish booting: the job keeps waiting.
      group: new MemoryInstanceGroup({ createDelayMs: 3_600_000 }),
      settings: settings({ instance_acquire_timeout: "300ms" }),
      metrics: {
        registry: {
          watchInstanceGroup: (_ids, v) => {
            view = v;
            return { scaled: () => {}, task: () => {} };
          },
        },
        ids: { runner: "r", runnerName: "auto", systemId: "" },
      },
    });
    await a.start();
    const got = await bus.request(autoscalerAcquireRpc("g1", "w1"), { key: "job-1", waitMs: 3_600_000 });
    expect(got.acquired).toBe(false);
    expect(view!()!.tasks.pending).toBe(1);
    await until("the wait is over", () => view!()!.tasks.pending === 0);
    await a.stop();
    await bus.close();
  });

  test("every scaling decision is logged with the formula's terms, under the runner's name", async () => {
    const bus = createInprocBus({ logger });
    const lines: Record<string, unknown>[] = [];
    const captured = createLogger({
      service: "autoscaler",
      level: "info",
      destination: { write: (l: string) => lines.push(JSON.parse(l)) },
    });
    const a = autoscaler({
      bus,
      group: new MemoryInstanceGroup(),
      logger: captured,
      settings: settings({ capacity_per_instance: 2, max_instances: 9, policy: [{ idle_count: 3 }] }),
    });
    await a.start();
    const decision = lines.find((l) => l.msg === "required scaling change");
    expect(decision).toMatchObject({
      runner: "auto",
      instance_count: 0,
      max_instance_count: 9,
      acquired: 0,
      unavailable_capacity: 0,
      pending: 0,
      reserved: 0,
      idle_count: 3,
      scale_factor: 0,
      capacity_per_instance: 2,
      required: 2,
      increase: 2,
    });
    await a.stop();
    await bus.close();
  });

  test("an acquisition that finds no ready slot counts as demand and is served once an instance is ready", async () => {
    const bus = createInprocBus({ logger });
    const group = new MemoryInstanceGroup({ createDelayMs: 50 });
    const a = autoscaler({ bus, group, settings: settings({}) });
    await a.start();
    const first = await bus.request(autoscalerAcquireRpc("g1", "w1"), { key: "job-1", waitMs: 5000 });
    expect(first.acquired).toBe(false);
    await until("an instance is ready", () => readyCount(a) === 1);
    expect(
      (await bus.request(autoscalerAcquireRpc("g1", "w1"), { key: "job-1", waitMs: 5000 })).acquired,
    ).toBe(true);
    await a.stop();
    await bus.close();
  });

  test("another worker's release does not withdraw a job's waiting demand; the asking worker's own does", async () => {
    const bus = createInprocBus({ logger });
    // The group's view as /metrics reads it: tasks.pending are the acquisitions waiting.
    let view: (() => { tasks: Record<string, number> } | undefined) | undefined;
    const a = autoscaler({
      bus,
      group: new MemoryInstanceGroup({ createDelayMs: 600_000 }),
      settings: settings({}),
      metrics: {
        registry: {
          watchInstanceGroup: (_ids, v) => {
            view = v;
            return { scaled: () => {}, task: () => {} };
          },
        },
        ids: { runner: "abc", runnerName: "auto", systemId: "s" },
      },
    });
    await a.start();
    const waiting = () => view?.()?.tasks.pending;
    const asked = await bus.request(autoscalerAcquireRpc("g1", "w1"), { key: "job-1", waitMs: 60_000 });
    expect([asked.acquired, waiting()]).toEqual([false, 1]);
    expect(await bus.request(autoscalerReleaseRpc("g1", "w2"), { key: "job-1" })).toEqual({
      released: false,
    });
    expect(waiting()).toBe(1);
    expect(await bus.request(autoscalerReleaseRpc("g1", "w1"), { key: "job-1" })).toEqual({
      released: false,
    });
    expect(waiting()).toBe(0);
    await a.stop();
    await bus.close();
  });

  test("max_use_count: a spent instance is deleted after its last release", async () => {
    const bus = createInprocBus({ logger });
    const group = new MemoryInstanceGroup();
    const a = autoscaler({
      bus,
      group,
      settings: settings({ max_use_count: 1, policy: [{ idle_count: 1, idle_time: "1h" }] }),
    });
    await a.start();
    await until("one ready", () => readyCount(a) === 1);
    const got = await bus.request(autoscalerAcquireRpc("g1", "w1"), { key: "job-1", waitMs: 1000 });
    if (!got.acquired) throw new Error(got.reason);
    await bus.request(autoscalerReleaseRpc("g1", "w1"), { key: "job-1" });
    await until("the spent instance is deleted", () => group.list().every((i) => i.id !== got.instanceId));
    await a.stop();
    await bus.close();
  });

  test("a failed instance_ready_command makes the instance unhealthy; it is deleted and replaced", async () => {
    const bus = createInprocBus({ logger });
    const group = new MemoryInstanceGroup();
    let calls = 0;
    const a = autoscaler({
      bus,
      group,
      settings: settings({ policy: [{ idle_count: 1 }] }),
      ready: async () => ++calls > 1,
    });
    await a.start();
    await until("a replacement is ready", () => readyCount(a) === 1);
    expect(group.calls.filter((c) => c.op === "decrease")).toEqual([{ op: "decrease", arg: ["m-0"] }]);
    await a.stop();
    await bus.close();
  });

  describe("state_storage across restarts of the all-in-one", () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "runmesh-autoscaler-"));
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    async function run(
      group: MemoryInstanceGroup,
      file: string | undefined,
      keep: boolean,
      body: (a: Autoscaler, bus: Bus) => Promise<void>,
      extra: Record<string, unknown> = {},
    ) {
      const bus = createInprocBus({ logger });
      const a = autoscaler({
        bus,
        group,
        settings: settings({ max_use_count: 5, policy: [{ idle_count: 2, idle_time: "1h" }], ...extra }),
        stateFile: file ? { path: file, keepInstanceWithAcquisitions: keep } : undefined,
      });
      await a.start();
      await body(a, bus);
      a.abandon();
      await bus.close();
    }

    test("instances and use counts are restored; no instance is created twice", async () => {
      const group = new MemoryInstanceGroup();
      const file = join(dir, "restore.json");
      // max_instances 2: the acquisition's wish for a third idle instance cannot race the release.
      const two = { max_instances: 2 };
      await run(
        group,
        file,
        false,
        async (a, bus) => {
          await until("two ready", () => readyCount(a) === 2);
          const got = await bus.request(autoscalerAcquireRpc("g1", "w1"), { key: "j", waitMs: 1000 });
          if (!got.acquired) throw new Error(got.reason);
          await bus.request(autoscalerReleaseRpc("g1", "w1"), { key: "j" });
        },
        two,
      );
      await run(
        group,
        file,
        false,
        async (a) => {
          expect(a.restoredFrom).toBe("state_storage");
          await until("both ready again", () => readyCount(a) === 2);
          expect(
            a
              .snapshot()
              .instances.map((i) => i.useCount)
              .sort(),
          ).toEqual([0, 1]);
        },
        two,
      );
      expect(group.calls.filter((c) => c.op === "increase")).toEqual([{ op: "increase", arg: 2 }]);
      expect(group.calls.filter((c) => c.op === "decrease")).toEqual([]);
    });

    test("an instance holding an acquisition at the crash is deleted, or kept with keep_instance_with_acquisitions", async () => {
      for (const keep of [false, true]) {
        const group = new MemoryInstanceGroup();
        const file = join(dir, `busy-${keep}.json`);
        let busy = "";
        await run(group, file, keep, async (a, bus) => {
          await until("two ready", () => readyCount(a) === 2);
          const got = await bus.request(autoscalerAcquireRpc("g1", "w1"), { key: "j", waitMs: 1000 });
          if (!got.acquired) throw new Error(got.reason);
          busy = got.instanceId;
          await until("a third instance for the idle target", () => readyCount(a) === 3);
        });
        await run(group, file, keep, async (a) => {
          await until("the kept instances are ready again", () => readyCount(a) === (keep ? 3 : 2));
          const deleted = group.calls.filter((c) => c.op === "decrease").flatMap((c) => c.arg as string[]);
          expect({ keep, deleted }).toEqual({ keep, deleted: keep ? [] : [busy] });
        });
      }
    });

    test("without state_storage, instances found at start are deleted for safety", async () => {
      const group = new MemoryInstanceGroup();
      await run(group, undefined, false, (a) => until("two ready", () => readyCount(a) === 2));
      await run(group, undefined, false, async (a) => {
        expect(a.restoredFrom).toBe("nothing");
        await until("two new ones ready", () => readyCount(a) === 2);
      });
      expect(group.calls.filter((c) => c.op === "decrease")).toEqual([
        { op: "decrease", arg: ["m-0", "m-1"] },
      ]);
    });
  });
});

describe("autoscaler standby over NATS", () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(() => nats?.stop());

  test("one active per group; the standby takes over when it dies, keeps its acquisitions and doubles nothing", async () => {
    const busA = await connectNatsBus({ servers: nats.url, name: "as-a", logger });
    const busB = await connectNatsBus({ servers: nats.url, name: "as-b", logger });
    const client = await connectNatsBus({ servers: nats.url, name: "worker", logger });
    // One cloud, two autoscalers that both could drive it.
    const group = new MemoryInstanceGroup();
    const s = settings({ policy: [{ idle_count: 2, idle_time: "1h" }] });
    const a = autoscaler({ bus: busA, group, settings: s, autoscalerId: "a" });
    const b = autoscaler({ bus: busB, group, settings: s, autoscalerId: "b" });
    await a.start();
    await b.start();
    await until("a has two ready", () => readyCount(a) === 2);
    expect([a.isActive, b.isActive]).toEqual([true, false]);
    const got = await client.request(autoscalerAcquireRpc("g1", "w1"), { key: "job-7", waitMs: 1000 });
    if (!got.acquired) throw new Error(got.reason);
    await until("a third instance for the idle target", () => readyCount(a) === 3);

    a.abandon();
    await busA.close();
    await until("b takes over", () => b.isActive);
    expect(b.restoredFrom).toBe("kv");
    // b serves the same book: job-7 still holds its slot and releases on b.
    expect(
      await client.request(autoscalerReleaseRpc("g1", "w1"), { key: "job-7" }, { timeoutMs: 3000 }),
    ).toEqual({
      released: true,
    });
    await b.tickNow();
    await Bun.sleep(200);
    expect(live(group)).toBe(3);
    expect(group.calls.filter((c) => c.op === "increase").reduce((n, c) => n + (c.arg as number), 0)).toBe(3);
    await b.stop();
    await busB.close();
    await client.close();
  });

  test("a worker cannot release or take another worker's acquisition: refused, logged, the instance stays acquired, also after a takeover", async () => {
    const lines: string[] = [];
    const seen = createLogger({
      service: "autoscaler-test",
      level: "warn",
      destination: { write: (l) => lines.push(l) },
    });
    const busA = await connectNatsBus({ servers: nats.url, name: "as-a", logger });
    const busB = await connectNatsBus({ servers: nats.url, name: "as-b", logger });
    const w1 = await connectNatsBus({ servers: nats.url, name: "w1", logger });
    const w2 = await connectNatsBus({ servers: nats.url, name: "w2", logger });
    const group = new MemoryInstanceGroup();
    const s = settings({ policy: [{ idle_count: 1, idle_time: "1h" }] });
    const secret = "-----BEGIN OPENSSH PRIVATE KEY----- holders-test";
    const connectorConfig = { username: "ci", key: secret };
    const a = autoscaler({ bus: busA, group, settings: s, autoscalerId: "a", logger: seen, connectorConfig });
    const b = autoscaler({ bus: busB, group, settings: s, autoscalerId: "b", logger: seen, connectorConfig });
    await a.start();
    await b.start();
    await until("a has one ready", () => readyCount(a) === 1);
    const got = await w1.request(autoscalerAcquireRpc("g1", "w1"), { key: "job-7", waitMs: 1000 });
    if (!got.acquired) throw new Error(got.reason);
    const holding = (x: Autoscaler) => x.snapshot().instances.find((i) => i.id === got.instanceId);
    expect(holding(a)).toMatchObject({ acquisitions: ["job-7"], holders: { "job-7": "w1" } });

    const refusal = `worker "w2" may not release acquisition "job-7" in the group of runner "auto": worker "w1" holds it`;
    const release = (bus: Bus, worker: string) =>
      bus.request(autoscalerReleaseRpc("g1", worker), { key: "job-7" }, { timeoutMs: 3000 });
    expect(await release(w2, "w2")).toEqual({ released: false, reason: refusal });
    // Nor may it take the slot (and its credentials) by acquiring with the same key.
    expect(await w2.request(autoscalerAcquireRpc("g1", "w2"), { key: "job-7", waitMs: 1000 })).toMatchObject({
      acquired: false,
      refused: true,
      reason: expect.stringContaining('worker "w1" holds it'),
    });
    expect(holding(a)).toMatchObject({ acquisitions: ["job-7"], holders: { "job-7": "w1" } });
    const warned = lines.map((l) => JSON.parse(l)).filter((l) => String(l.msg).includes("refused"));
    expect(warned.map((l) => [l.msg, l.worker, l.holder, l.instance, l.job, l.group])).toEqual([
      ["release refused: another worker holds the acquisition", "w2", "w1", got.instanceId, "job-7", "g1"],
      ["acquire refused: another worker holds the acquisition", "w2", "w1", got.instanceId, "job-7", "g1"],
    ]);
    expect(lines.join("\n")).not.toContain("PRIVATE KEY");

    // The standby takes the holder over with the book: still refused for w2, released for w1.
    a.abandon();
    await busA.close();
    await until("b takes over", () => b.isActive);
    expect(await release(w2, "w2")).toEqual({ released: false, reason: refusal });
    expect(holding(b)).toMatchObject({ acquisitions: ["job-7"], holders: { "job-7": "w1" } });
    expect(await release(w1, "w1")).toEqual({ released: true });
    expect(holding(b)?.acquisitions).toEqual([]);
    expect(holding(b)?.holders).toBeUndefined();
    await b.stop();
    await busB.close();
    await Promise.all([w1.close(), w2.close()]);
  });

  test("with the scheduler's records: an instance only for a job running on the asking worker in this group", async () => {
    const lines: string[] = [];
    const seen = createLogger({
      service: "autoscaler-test",
      level: "warn",
      destination: { write: (l) => lines.push(l) },
    });
    const bus = await connectNatsBus({ servers: nats.url, name: "as-jobs", logger });
    const w1 = await connectNatsBus({ servers: nats.url, name: "w1", logger });
    const w2 = await connectNatsBus({ servers: nats.url, name: "w2", logger });
    // As the scheduler's dispatch and the workers' claims leave them, sealed.
    await storeSealedRecord(bus, "h_run", { workerId: "w1", runnerKey: "g-jobs" });
    await storeSealedRecord(bus, "h_other_group", { workerId: "w1", runnerKey: "g2" });
    await storeSealedRecord(bus, "h_acked", { workerId: "w1", state: "acknowledged", runnerKey: "g-jobs" });
    const group = new MemoryInstanceGroup();
    const a = autoscaler({
      bus,
      group,
      settings: settings({ policy: [{ idle_count: 1, idle_time: "1h" }] }),
      autoscalerId: "a-jobs",
      // Its own group: the other tests' books of g1 stay in this server's KV.
      groupKey: "g-jobs",
      logger: seen,
      jobs: sealedJobs(bus),
    });
    await a.start();
    await until("one ready", () => readyCount(a) === 1);
    const acquire = (b: Bus, worker: string, key: string) =>
      b.request(autoscalerAcquireRpc("g-jobs", worker), { key, waitMs: 1000 }, { timeoutMs: 3000 });
    expect(await acquire(w2, "w2", "h_run")).toMatchObject({
      acquired: false,
      refused: true,
      reason: 'job h_run, worker "w2": the job runs on worker "w1"',
    });
    expect(await acquire(w1, "w1", "h_other_group")).toMatchObject({
      acquired: false,
      refused: true,
      reason: expect.stringContaining("runner entry g2's, not this instance group's"),
    });
    // Not running yet: asked again later (not refused for good), and no instance is taken for it.
    const early = await acquire(w1, "w1", "h_acked");
    expect([early.acquired, "refused" in early && early.refused]).toEqual([false, false]);
    expect(await acquire(w2, "w2", "h_nobody")).toMatchObject({ acquired: false });
    expect(a.snapshot().instances.flatMap((i) => i.acquisitions)).toEqual([]);
    expect((await acquire(w1, "w1", "h_run")).acquired).toBe(true);
    expect(a.snapshot().instances.flatMap((i) => i.acquisitions)).toEqual(["h_run"]);
    const warned = lines.map((l) => JSON.parse(l)).filter((l) => l.msg.startsWith("acquire refused"));
    expect(warned.map((l) => [l.worker, l.job])).toEqual([
      ["w2", "h_run"],
      ["w1", "h_other_group"],
    ]);
    expect(lines.join("\n")).not.toContain("job-token-binding");
    await a.stop();
    await Promise.all([bus.close(), w1.close(), w2.close()]);
  });
});
