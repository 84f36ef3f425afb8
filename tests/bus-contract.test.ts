// One contract, two transports: every behaviour a service may rely on is checked against the
// in-process bus and against a real nats-server (Debian's 2.9), so the two cannot drift apart.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { z } from "zod";
import type { Bus, BusStatus, WorkItem } from "../libs/bus/bus.ts";
import {
  BlobStoreFullError,
  BusClosedError,
  BusNoRespondersError,
  BusRemoteError,
  BusSchemaError,
  BusTimeoutError,
  KvConflictError,
} from "../libs/bus/bus.ts";
import { createInprocBus } from "../libs/bus/inproc-bus.ts";
import { connectNatsBus } from "../libs/bus/nats-bus.ts";
import { rpc, topic } from "../libs/bus/topics.ts";
import { createLogger, type Logger } from "../libs/log/logger.ts";
import { type NatsServer, startNatsServer } from "./infra/nats-server.ts";

interface Transport {
  name: string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** A client of the bus under test; several calls in one test give clients of one bus. */
  client(logger: Logger): Promise<Bus>;
  /** Forgets the bus of the finished test. */
  reset(): void;
}

const inproc = (): Transport => {
  let shared: Bus | undefined;
  return {
    name: "inproc",
    async setup() {},
    async teardown() {},
    async client(logger) {
      // Every "service" of one process shares the one in-process bus.
      shared ??= createInprocBus({ logger });
      return shared;
    },
    reset() {
      shared = undefined;
    },
  };
};

const nats = (): Transport => {
  let server: NatsServer | undefined;
  return {
    name: "nats",
    async setup() {
      server = await startNatsServer();
    },
    async teardown() {
      await server?.stop();
    },
    async client(logger) {
      return connectNatsBus({ servers: server!.url, name: "contract-test", logger });
    },
    reset() {},
  };
};

let counter = 0;
/** Names unique to one test, so leftovers of another test (or transport) never interfere. */
function uniq(): string {
  counter += 1;
  return `t${counter}x${Math.random().toString(36).slice(2, 8)}`;
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

const sleep = (ms: number) => Bun.sleep(ms);

const num = z.object({ n: z.number() });
const loose = z.object({ n: z.unknown() });

function busContract(make: () => Transport): void {
  const transport = make();
  describe(`bus contract: ${transport.name}`, () => {
    let logs: string[] = [];
    let open: Bus[] = [];
    let logger: Logger;

    beforeAll(() => transport.setup());
    afterAll(() => transport.teardown());
    afterEach(async () => {
      for (const bus of new Set(open)) if (bus.status() !== "closed") await bus.close();
      open = [];
      transport.reset();
    });

    async function client(): Promise<Bus> {
      if (open.length === 0) {
        logs = [];
        logger = createLogger({
          service: "bus-test",
          level: "debug",
          destination: { write: (l) => logs.push(l) },
        });
      }
      const bus = await transport.client(logger);
      open.push(bus);
      return bus;
    }

    describe("publish/subscribe", () => {
      test("delivers a message and its headers to a subscriber on another client", async () => {
        const [a, b] = [await client(), await client()];
        const t = topic(`${uniq()}.hello`, num);
        const got: { n: number; headers: Record<string, string>; subject: string }[] = [];
        await a.subscribe(t, (m) => {
          got.push({ n: m.data.n, headers: m.headers, subject: m.subject });
        });
        await b.publish(t, { n: 7 }, { traceparent: "00-abc-def-01" });
        await waitFor("delivery", () => got.length === 1);
        expect(got[0]).toEqual({ n: 7, headers: { traceparent: "00-abc-def-01" }, subject: t.subject });
      });

      test("'*' matches one token and '>' one or more", async () => {
        const bus = await client();
        const p = uniq();
        const star: string[] = [];
        const tail: string[] = [];
        await bus.subscribe(topic(`${p}.*.x`, num), (m) => {
          star.push(m.subject);
        });
        await bus.subscribe(topic(`${p}.>`, num), (m) => {
          tail.push(m.subject);
        });
        await bus.publish(topic(`${p}.a.x`, num), { n: 1 });
        await bus.publish(topic(`${p}.a.b.x`, num), { n: 2 });
        await bus.publish(topic(`${p}.a.y`, num), { n: 3 });
        await waitFor("three on >", () => tail.length === 3);
        await sleep(100);
        expect(tail).toEqual([`${p}.a.x`, `${p}.a.b.x`, `${p}.a.y`]);
        expect(star).toEqual([`${p}.a.x`]);
      });

      test("delivers in publish order", async () => {
        const bus = await client();
        const t = topic(`${uniq()}.order`, num);
        const got: number[] = [];
        await bus.subscribe(t, (m) => {
          got.push(m.data.n);
        });
        for (let n = 0; n < 50; n++) await bus.publish(t, { n });
        await waitFor("50 messages", () => got.length === 50);
        expect(got).toEqual([...Array(50).keys()]);
      });

      test("a queue group gives each message to one member; plain subscribers get all", async () => {
        const [a, b, c] = [await client(), await client(), await client()];
        const t = topic(`${uniq()}.work`, num);
        const groupA: number[] = [];
        const groupB: number[] = [];
        const plain: number[] = [];
        await a.subscribe(t, (m) => void groupA.push(m.data.n), { queue: "workers" });
        await b.subscribe(t, (m) => void groupB.push(m.data.n), { queue: "workers" });
        await c.subscribe(t, (m) => void plain.push(m.data.n));
        for (let n = 0; n < 40; n++) await c.publish(t, { n });
        await waitFor("all messages", () => plain.length === 40 && groupA.length + groupB.length >= 40);
        await sleep(100);
        expect([...groupA, ...groupB].sort((x, y) => x - y)).toEqual([...Array(40).keys()]);
        // 40 random picks all landing on one member would be a broken group, not bad luck.
        expect(groupA.length).toBeGreaterThan(0);
        expect(groupB.length).toBeGreaterThan(0);
      });

      test("each subscriber gets its own copy of the data", async () => {
        const bus = await client();
        const t = topic(`${uniq()}.copy`, z.object({ list: z.array(z.number()) }));
        const seen: number[][] = [];
        await bus.subscribe(t, (m) => {
          m.data.list.push(99);
        });
        await bus.subscribe(t, async (m) => {
          await sleep(20);
          seen.push(m.data.list);
        });
        const sent = { list: [1] };
        await bus.publish(t, sent);
        await waitFor("second subscriber", () => seen.length === 1);
        expect(seen[0]).toEqual([1]);
        expect(sent.list).toEqual([1]);
      });

      test("unsubscribe stops delivery", async () => {
        const bus = await client();
        const t = topic(`${uniq()}.stop`, num);
        const got: number[] = [];
        const sub = await bus.subscribe(t, (m) => void got.push(m.data.n));
        await bus.publish(t, { n: 1 });
        await waitFor("first", () => got.length === 1);
        await sub.unsubscribe();
        await sub.unsubscribe();
        await bus.publish(t, { n: 2 });
        await sleep(150);
        expect(got).toEqual([1]);
      });

      test("a message that breaks the schema is logged with subject and reason, dropped, and later ones arrive", async () => {
        const [a, b] = [await client(), await client()];
        const subject = `${uniq()}.strict`;
        const got: number[] = [];
        await a.subscribe(topic(subject, num), (m) => void got.push(m.data.n));
        // The same subject under a looser schema: what a buggy or outdated sender would put on the wire.
        await b.publish(topic(subject, loose), { n: "seven" });
        await b.publish(topic(subject, num), { n: 8 });
        await waitFor("the valid message", () => got.length === 1);
        await sleep(50);
        expect(got).toEqual([8]);
        const dropped = logs
          .map((l) => JSON.parse(l))
          .find((l) => l.msg?.includes("does not match its schema"));
        expect(dropped?.subject).toBe(subject);
        expect(dropped?.reason).toContain("expected number");
      });

      test("publishing data that breaks the schema rejects at the sender with BusSchemaError", async () => {
        const bus = await client();
        const t = topic(`${uniq()}.bad`, num);
        await expect(bus.publish(t, { n: "x" } as unknown as { n: number })).rejects.toBeInstanceOf(
          BusSchemaError,
        );
      });

      test("a subscriber that throws does not stop later deliveries", async () => {
        const bus = await client();
        const t = topic(`${uniq()}.throws`, num);
        const got: number[] = [];
        await bus.subscribe(t, async (m) => {
          got.push(m.data.n);
          if (m.data.n === 1) throw new Error("boom");
        });
        await bus.publish(t, { n: 1 });
        await bus.publish(t, { n: 2 });
        await waitFor("both", () => got.length === 2);
        expect(logs.some((l) => l.includes("boom"))).toBe(true);
      });
    });

    describe("request/reply", () => {
      const doubler = (subject: string) =>
        rpc(subject, num, z.object({ doubled: z.number(), trace: z.string() }));

      test("returns the handler's reply; headers reach the handler", async () => {
        const [server, caller] = [await client(), await client()];
        const r = doubler(`${uniq()}.double`);
        await server.serve(r, (req) => ({
          doubled: req.data.n * 2,
          trace: req.headers.traceparent ?? "none",
        }));
        const reply = await caller.request(r, { n: 21 }, { headers: { traceparent: "tp-1" } });
        expect(reply).toEqual({ doubled: 42, trace: "tp-1" });
      });

      test("a handler error reaches the caller as BusRemoteError with the handler's message", async () => {
        const [server, caller] = [await client(), await client()];
        const r = doubler(`${uniq()}.fails`);
        await server.serve(r, () => {
          throw new Error("lease ledger is full");
        });
        const err = await caller.request(r, { n: 1 }, { timeoutMs: 3_000 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(BusRemoteError);
        expect((err as Error).message).toContain("lease ledger is full");
      });

      test("a request nobody serves rejects with BusNoRespondersError", async () => {
        const bus = await client();
        await expect(bus.request(doubler(`${uniq()}.nobody`), { n: 1 })).rejects.toBeInstanceOf(
          BusNoRespondersError,
        );
      });

      test("a handler slower than the timeout makes the request reject with BusTimeoutError", async () => {
        const [server, caller] = [await client(), await client()];
        const r = doubler(`${uniq()}.slow`);
        await server.serve(r, async (req) => {
          await sleep(500);
          return { doubled: req.data.n, trace: "" };
        });
        await expect(caller.request(r, { n: 1 }, { timeoutMs: 100 })).rejects.toBeInstanceOf(BusTimeoutError);
      });

      test("a request that breaks the schema is answered with an error naming the problem", async () => {
        const [server, caller] = [await client(), await client()];
        const subject = `${uniq()}.strict`;
        let calls = 0;
        await server.serve(doubler(subject), (req) => {
          calls += 1;
          return { doubled: req.data.n, trace: "" };
        });
        const err = await caller
          .request(rpc(subject, loose, z.unknown()), { n: "seven" }, { timeoutMs: 3_000 })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(BusRemoteError);
        expect((err as BusRemoteError).remoteName).toBe("BusSchemaError");
        expect((err as Error).message).toContain("expected number");
        expect(calls).toBe(0);
      });

      test("a reply that breaks the response schema rejects the request with BusSchemaError", async () => {
        const [server, caller] = [await client(), await client()];
        const subject = `${uniq()}.badreply`;
        await server.serve(rpc(subject, num, loose), () => ({ n: "not a number" }));
        await expect(caller.request(rpc(subject, num, num), { n: 1 })).rejects.toBeInstanceOf(BusSchemaError);
      });

      test("with a queue group, one member answers each request", async () => {
        const [a, b, caller] = [await client(), await client(), await client()];
        const r = doubler(`${uniq()}.group`);
        let calls = 0;
        const handler = (req: { data: { n: number } }) => {
          calls += 1;
          return { doubled: req.data.n * 2, trace: "" };
        };
        await a.serve(r, handler, { queue: "scheduler" });
        await b.serve(r, handler, { queue: "scheduler" });
        const replies = await Promise.all([...Array(10).keys()].map((n) => caller.request(r, { n })));
        expect(replies.map((x) => x.doubled)).toEqual([...Array(10).keys()].map((n) => n * 2));
        await sleep(50);
        expect(calls).toBe(10);
      });
    });

    describe("work queue", () => {
      const job = z.object({ id: z.string() });
      const queueOf = async (bus: Bus, name: string, ackWaitMs = 600) =>
        bus.workQueue(name, topic(`${name}.jobs`, job), { ackWaitMs, duplicateWindowMs: 60_000 });

      test("drops an add whose msgId was already added inside the window", async () => {
        const bus = await client();
        const name = uniq();
        const q = await queueOf(bus, name);
        expect(await q.add({ id: "1" }, { msgId: "job-1" })).toEqual({ duplicate: false });
        expect(await q.add({ id: "1-again" }, { msgId: "job-1" })).toEqual({ duplicate: true });
        expect(await q.add({ id: "2" }, { msgId: "job-2" })).toEqual({ duplicate: false });
        const got: string[] = [];
        await q.consume("c", async (item) => {
          got.push(`${item.msgId}:${item.data.id}`);
          await item.ack();
        });
        await waitFor("two items", () => got.length === 2);
        await sleep(100);
        expect(got).toEqual(["job-1:1", "job-2:2"]);
      });

      test("redelivers an unacked item after ackWait with deliveryCount 2, and headers travel", async () => {
        const bus = await client();
        const q = await queueOf(bus, uniq(), 500);
        const seen: { count: number; headers: Record<string, string> }[] = [];
        await q.consume("c", async (item) => {
          seen.push({ count: item.deliveryCount, headers: item.headers });
          if (item.deliveryCount >= 2) await item.ack();
        });
        await q.add({ id: "a" }, { msgId: "a", headers: { traceparent: "tp-a" } });
        await waitFor("redelivery", () => seen.length === 2);
        expect(seen).toEqual([
          { count: 1, headers: { traceparent: "tp-a" } },
          { count: 2, headers: { traceparent: "tp-a" } },
        ]);
      });

      test("nak redelivers without waiting for ackWait; nak with a delay redelivers later", async () => {
        const bus = await client();
        // ackWait far beyond the wait below: only the naks can bring the item back.
        const q = await queueOf(bus, uniq(), 20_000);
        const counts: number[] = [];
        await q.consume("c", async (item) => {
          counts.push(item.deliveryCount);
          if (item.deliveryCount === 1) await item.nak();
          else if (item.deliveryCount === 2) await item.nak(200);
          else await item.ack();
        });
        await q.add({ id: "a" }, { msgId: "a" });
        await waitFor("third delivery", () => counts.length === 3);
        expect(counts).toEqual([1, 2, 3]);
      });

      test("term never redelivers, and the consumer keeps going", async () => {
        const bus = await client();
        const q = await queueOf(bus, uniq(), 400);
        const got: string[] = [];
        await q.consume("c", async (item) => {
          got.push(item.data.id);
          if (item.data.id === "poison") await item.term();
          else await item.ack();
        });
        await q.add({ id: "poison" }, { msgId: "p" });
        await waitFor("poison", () => got.length === 1);
        await sleep(1_000);
        await q.add({ id: "ok" }, { msgId: "ok" });
        await waitFor("next item", () => got.length === 2);
        expect(got).toEqual(["poison", "ok"]);
      });

      test("working() keeps an item from being redelivered past ackWait", async () => {
        const bus = await client();
        const q = await queueOf(bus, uniq(), 800);
        const counts: number[] = [];
        let done = false;
        await q.consume("c", async (item) => {
          counts.push(item.deliveryCount);
          for (let i = 0; i < 8; i++) {
            await sleep(200);
            await item.working();
          }
          await item.ack();
          done = true;
        });
        await q.add({ id: "long" }, { msgId: "long" });
        await waitFor("the long job", () => done);
        expect(counts).toEqual([1]);
      });

      test("an acked item is gone: a restarted consumer gets only new items", async () => {
        const bus = await client();
        const name = uniq();
        const q = await queueOf(bus, name, 400);
        const first: string[] = [];
        const sub = await q.consume("c", async (item) => {
          first.push(item.data.id);
          await item.ack();
        });
        await q.add({ id: "a" }, { msgId: "a" });
        await waitFor("a", () => first.length === 1);
        await sub.unsubscribe();
        await sleep(600);
        const second: string[] = [];
        await q.add({ id: "b" }, { msgId: "b" });
        await q.consume("c", async (item) => {
          second.push(item.data.id);
          await item.ack();
        });
        await waitFor("b", () => second.length === 1);
        await sleep(600);
        expect(second).toEqual(["b"]);
      });

      test("handlers sharing a consumer name split the items without duplicates", async () => {
        const [a, b] = [await client(), await client()];
        const name = uniq();
        const qa = await queueOf(a, name, 5_000);
        const qb = await queueOf(b, name, 5_000);
        const got: { who: string; id: string }[] = [];
        const handler = (who: string) => async (item: WorkItem<{ id: string }>) => {
          got.push({ who, id: item.data.id });
          await sleep(5);
          await item.ack();
        };
        await qa.consume("shared", handler("a"));
        await qb.consume("shared", handler("b"));
        for (let i = 0; i < 30; i++) await qa.add({ id: String(i) }, { msgId: `m${i}` });
        await waitFor("30 items", () => got.length >= 30);
        await sleep(200);
        expect(got.map((g) => Number(g.id)).sort((x, y) => x - y)).toEqual([...Array(30).keys()]);
      });

      test("unacked items survive a consumer restart", async () => {
        const bus = await client();
        const q = await queueOf(bus, uniq(), 500);
        const firstRun: string[] = [];
        const sub = await q.consume("c", (item) => {
          firstRun.push(item.msgId); // never acks: the consumer "crashes"
        });
        await q.add({ id: "1" }, { msgId: "m1" });
        await q.add({ id: "2" }, { msgId: "m2" });
        await waitFor("first run", () => firstRun.length === 2);
        await sub.unsubscribe();
        await q.add({ id: "3" }, { msgId: "m3" });
        const secondRun = new Map<string, number>();
        await q.consume("c", async (item) => {
          secondRun.set(item.msgId, item.deliveryCount);
          await item.ack();
        });
        await waitFor("all three", () => secondRun.size === 3);
        expect(secondRun.get("m1")).toBeGreaterThanOrEqual(2);
        expect(secondRun.get("m2")).toBeGreaterThanOrEqual(2);
        expect(secondRun.get("m3")).toBe(1);
      });

      test("a second consumer name on one work queue is refused", async () => {
        const bus = await client();
        const q = await queueOf(bus, uniq());
        await q.consume("scheduler", () => {});
        await expect(q.consume("someone-else", () => {})).rejects.toThrow(/one consumer name/);
      });

      test("an item that breaks the schema is logged and dropped, not redelivered", async () => {
        const bus = await client();
        const name = uniq();
        const subject = `${name}.jobs`;
        const strict = await bus.workQueue(name, topic(subject, job), { ackWaitMs: 300 });
        const lax = await bus.workQueue(name, topic(subject, z.object({ id: z.unknown() })), {
          ackWaitMs: 300,
        });
        await lax.add({ id: 42 }, { msgId: "bad" });
        await strict.add({ id: "fine" }, { msgId: "good" });
        const got: string[] = [];
        await strict.consume("c", async (item) => {
          got.push(item.data.id);
          await item.ack();
        });
        await waitFor("the valid item", () => got.length === 1);
        await sleep(700);
        expect(got).toEqual(["fine"]);
        const dropped = logs
          .map((l) => JSON.parse(l))
          .filter((l) => l.msg?.includes("does not match its schema"));
        expect(dropped).toHaveLength(1);
        expect(dropped[0].subject).toBe(subject);
        expect(dropped[0].reason).toContain("expected string");
      });
    });

    describe("kv", () => {
      const rec = z.object({ state: z.string() });

      test("create fails with KvConflictError when the key exists, and works again after delete", async () => {
        const kv = await (await client()).kv(uniq(), rec);
        const r1 = await kv.create("job-1", { state: "claimed" });
        await expect(kv.create("job-1", { state: "claimed" })).rejects.toBeInstanceOf(KvConflictError);
        await kv.delete("job-1");
        const r2 = await kv.create("job-1", { state: "claimed" });
        expect(r2).toBeGreaterThan(r1);
        expect(await kv.get("job-1")).toEqual({ key: "job-1", value: { state: "claimed" }, revision: r2 });
      });

      test("update is compare-and-set: a stale revision fails with KvConflictError", async () => {
        const [a, b] = [await client(), await client()];
        const bucket = uniq();
        const kvA = await a.kv(bucket, rec);
        const kvB = await b.kv(bucket, rec);
        const r1 = await kvA.create("k", { state: "claimed" });
        const r2 = await kvB.update("k", { state: "running" }, r1);
        expect(r2).toBeGreaterThan(r1);
        const err = await kvA.update("k", { state: "final" }, r1).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(KvConflictError);
        expect((err as KvConflictError).key).toBe("k");
        expect((await kvA.get("k"))?.value).toEqual({ state: "running" });
      });

      test("delete with a revision deletes only if it still matches", async () => {
        const kv = await (await client()).kv(uniq(), rec);
        const r1 = await kv.put("k", { state: "a" });
        const r2 = await kv.put("k", { state: "b" });
        await expect(kv.delete("k", r1)).rejects.toBeInstanceOf(KvConflictError);
        expect((await kv.get("k"))?.revision).toBe(r2);
        await kv.delete("k", r2);
        expect(await kv.get("k")).toBeUndefined();
      });

      test("keys lists only keys that hold a value", async () => {
        const kv = await (await client()).kv(uniq(), rec);
        expect(await kv.keys()).toEqual([]);
        await kv.put("a", { state: "x" });
        await kv.put("b", { state: "x" });
        await kv.put("c", { state: "x" });
        await kv.delete("b");
        expect((await kv.keys()).sort()).toEqual(["a", "c"]);
      });

      test("values are checked against the schema on write and the reader gets a copy", async () => {
        const kv = await (await client()).kv(uniq(), rec);
        await expect(kv.put("k", { state: 1 } as unknown as { state: string })).rejects.toBeInstanceOf(
          BusSchemaError,
        );
        await kv.put("k", { state: "x" });
        const first = await kv.get("k");
        first!.value.state = "mutated";
        expect((await kv.get("k"))?.value).toEqual({ state: "x" });
      });

      test("an invalid key is refused with a message that says which characters work", async () => {
        const kv = await (await client()).kv(uniq(), rec);
        await expect(kv.put("has space", { state: "x" })).rejects.toThrow(/letters, digits/);
      });
    });

    describe("blobs", () => {
      /** Bytes that differ at every offset, so a lost or reordered chunk shows. */
      const bytes = (n: number, seed = 7) => {
        const b = new Uint8Array(n);
        for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >> 17)) & 0xff;
        return b;
      };

      test("an object three times NATS's default max_payload comes back byte for byte", async () => {
        const [a, b] = [await client(), await client()];
        const store = uniq();
        const data = bytes(3 * 1024 * 1024 + 5);
        await (await a.blobs(store)).put("job-1.1", data);
        const back = await (await b.blobs(store)).get("job-1.1");
        expect(back?.byteLength).toBe(data.byteLength);
        expect(Buffer.from(back!).equals(Buffer.from(data))).toBe(true);
        expect(await (await b.blobs(store)).get("job-2.1")).toBeUndefined();
      });

      test("put replaces, delete removes, and deleting a missing name is no error", async () => {
        const blobs = await (await client()).blobs(uniq());
        await blobs.put("k", bytes(10, 1));
        await blobs.put("k", bytes(20, 2));
        expect(Buffer.from((await blobs.get("k"))!).equals(Buffer.from(bytes(20, 2)))).toBe(true);
        await blobs.delete("k");
        expect(await blobs.get("k")).toBeUndefined();
        await blobs.delete("k");
        await blobs.delete("never-there");
      });

      test("a put past the store's cap rejects with BlobStoreFullError and keeps nothing of it", async () => {
        const blobs = await (await client()).blobs(uniq(), { maxBytes: 2 * 1024 * 1024 });
        await blobs.put("small", bytes(1000));
        const err = await blobs.put("big", bytes(3 * 1024 * 1024)).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(BlobStoreFullError);
        expect((err as BlobStoreFullError).objectName).toBe("big");
        expect(await blobs.get("big")).toBeUndefined();
        expect((await blobs.get("small"))?.byteLength).toBe(1000);
        // The failed put left no chunks behind: what remains of the cap still takes an object.
        await blobs.put("fits", bytes(1024 * 1024));
        expect((await blobs.get("fits"))?.byteLength).toBe(1024 * 1024);
      });

      test("objects older than maxAgeMs are dropped", async () => {
        const blobs = await (await client()).blobs(uniq(), { maxAgeMs: 1000 });
        await blobs.put("old", bytes(100));
        expect(await blobs.get("old")).toBeDefined();
        const deadline = Date.now() + 8000;
        while ((await blobs.get("old")) !== undefined && Date.now() < deadline) await sleep(200);
        expect(await blobs.get("old")).toBeUndefined();
      });

      test("an invalid name is refused with a message that says which characters work", async () => {
        const blobs = await (await client()).blobs(uniq());
        await expect(blobs.put("has space", bytes(1))).rejects.toThrow(/letters, digits/);
      });
    });

    describe("lifecycle", () => {
      test("close reports 'closed' to listeners and later calls reject with BusClosedError", async () => {
        const bus = await client();
        expect(bus.status()).toBe("connected");
        const seen: BusStatus[] = [];
        bus.onStatus((s) => seen.push(s));
        await bus.close();
        expect(bus.status()).toBe("closed");
        expect(seen).toContain("closed");
        await expect(bus.publish(topic(`${uniq()}.late`, num), { n: 1 })).rejects.toBeInstanceOf(
          BusClosedError,
        );
        await expect(bus.close()).rejects.toBeInstanceOf(BusClosedError);
      });
    });
  });
}

busContract(inproc);
busContract(nats);

describe("nats transport across a server restart", () => {
  let server: NatsServer;
  const buses: Bus[] = [];
  const logger = createLogger({ service: "bus-test", level: "silent" });

  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    for (const bus of buses) if (bus.status() !== "closed") await bus.close();
    await server.stop();
  });

  test("reports reconnecting then connected, and work items stored before the restart are delivered", async () => {
    const bus = await connectNatsBus({ servers: server.url, logger, reconnectTimeWaitMs: 200 });
    buses.push(bus);
    const statuses: BusStatus[] = [];
    bus.onStatus((s) => statuses.push(s));
    const q = await bus.workQueue("restart", topic("restart.jobs", z.object({ id: z.string() })), {
      ackWaitMs: 1_000,
    });
    await q.add({ id: "before-1" }, { msgId: "b1" });
    await q.add({ id: "before-2" }, { msgId: "b2" });

    await server.restart();
    await waitFor("reconnect", () => statuses.includes("connected"), 15_000);
    expect(statuses.indexOf("reconnecting")).toBeGreaterThanOrEqual(0);
    expect(statuses.indexOf("reconnecting")).toBeLessThan(statuses.lastIndexOf("connected"));
    expect(bus.status()).toBe("connected");

    const got: string[] = [];
    await q.consume("after-restart", async (item) => {
      got.push(item.data.id);
      await item.ack();
    });
    await q.add({ id: "after" }, { msgId: "a1" });
    await waitFor("all items", () => got.length === 3, 10_000);
    expect(got.sort()).toEqual(["after", "before-1", "before-2"]);
  }, 30_000);

  test("a consumer running across a restart keeps receiving items", async () => {
    const bus = await connectNatsBus({ servers: server.url, logger, reconnectTimeWaitMs: 200 });
    buses.push(bus);
    const q = await bus.workQueue("live", topic("live.jobs", z.object({ id: z.string() })), {
      ackWaitMs: 1_000,
    });
    const got: string[] = [];
    await q.consume("live", async (item) => {
      got.push(item.data.id);
      await item.ack();
    });
    await q.add({ id: "one" }, { msgId: "1" });
    await waitFor("first", () => got.length === 1);
    const reconnected = new Promise<void>((resolve) => {
      const off = bus.onStatus((s) => {
        if (s === "connected") {
          off();
          resolve();
        }
      });
    });
    await server.restart();
    await reconnected;
    await q.add({ id: "two" }, { msgId: "2" });
    await waitFor("second after restart", () => got.length === 2, 20_000);
    expect(got).toEqual(["one", "two"]);
  }, 30_000);
});
