import { describe, expect, test } from "bun:test";
import { autoscalerSettingsSchema } from "../../libs/config/autoscaler-section.ts";
import type { ProviderState } from "../../libs/fleeting/instance-group.ts";
import type { AutoscalerGroupState } from "../../libs/messages/subjects.ts";
import {
  acquireSlot,
  capacityOf,
  DELETION_RETRY_MS,
  emptyBook,
  groupCounts,
  holderCheck,
  housekeeping,
  PENDING_TIMEOUT_MS,
  reconcile,
  recordHeartbeat,
  releaseSlot,
  restoreFromStorage,
} from "./instance-book.ts";
import { plannerSettings } from "./planner-settings.ts";

const s = plannerSettings(autoscalerSettingsSchema.parse({ capacity_per_instance: 2, max_use_count: 3 }));

type Instance = AutoscalerGroupState["instances"][number];

function inst(id: string, over: Partial<Instance> = {}): Instance {
  return {
    id,
    state: "ready" as const,
    acquisitions: [] as string[],
    useCount: 0,
    idleSinceMs: 0,
    createdAtMs: 0,
    ...over,
  };
}

describe("instance book", () => {
  test("Update: new ids fill pending instances; ids never asked for are strangers to delete", () => {
    const book = { ...emptyBook(0), pending: 1 };
    const r = reconcile(
      book,
      new Map<string, ProviderState>([
        ["a", "creating"],
        ["b", "running"],
      ]),
      5,
    );
    expect(r.book.pending).toBe(0);
    expect(r.book.instances.map((i) => [i.id, i.state])).toEqual([["a", "creating"]]);
    expect(r.strangers).toEqual(["b"]);
  });

  test("Update: running starts readiness, timeout makes unhealthy, a missing busy instance is reported vanished", () => {
    const book = {
      ...emptyBook(0),
      instances: [
        inst("c", { state: "creating" }),
        inst("t", { state: "creating" }),
        inst("x", { acquisitions: ["job1"] }),
      ],
    };
    const r = reconcile(
      book,
      new Map<string, ProviderState>([
        ["c", "running"],
        ["t", "timeout"],
      ]),
      5,
    );
    expect(r.running).toEqual(["c"]);
    expect(r.book.instances.find((i) => i.id === "t")!.state).toBe("unhealthy");
    expect(r.vanished).toEqual([{ id: "x", acquisitions: ["job1"] }]);
  });

  test("acquire packs the fullest ready instance, is idempotent per key, and respects max_use_count", () => {
    let book = {
      ...emptyBook(0),
      instances: [
        inst("a"),
        inst("b", { acquisitions: ["k0"], useCount: 1 }),
        inst("c", { state: "creating" }),
      ],
    };
    const first = acquireSlot(book, "k1", s)!;
    expect(first.instanceId).toBe("b");
    book = first.book;
    expect(acquireSlot(book, "k1", s)!.instanceId).toBe("b");
    // b is full (2 slots); a takes the next; a spent instance takes none.
    expect(acquireSlot(book, "k2", s)!.instanceId).toBe("a");
    const spent = { ...emptyBook(0), instances: [inst("a", { useCount: 3 })] };
    expect(acquireSlot(spent, "k", s)).toBeUndefined();
  });

  test("release frees the slot and starts the idle clock only when the instance is empty", () => {
    const book = { ...emptyBook(0), instances: [inst("a", { acquisitions: ["k1", "k2"], useCount: 2 })] };
    const one = releaseSlot(book, "k1", 100);
    expect([one.released, one.book.instances[0]!.idleSinceMs]).toEqual([true, 0]);
    const two = releaseSlot(one.book, "k2", 200);
    expect(two.book.instances[0]!.idleSinceMs).toBe(200);
    expect(releaseSlot(two.book, "k2", 300).released).toBe(false);
  });

  test.each([
    ["nobody holds the key", [], undefined, "w2", { ok: true }],
    ["the asker holds it", ["k"], { k: "w2" }, "w2", { ok: true }],
    ["no holder recorded (a book from before holders)", ["k"], undefined, "w2", { ok: true }],
    ["another worker holds it", ["k"], { k: "w1" }, "w2", { ok: false, holder: "w1", instanceId: "a" }],
    ["another key's holder is someone else", ["j", "k"], { j: "w1", k: "w2" }, "w2", { ok: true }],
  ] as const)("holderCheck: %s", (_, acquisitions, holders, asker, expected) => {
    const book = {
      ...emptyBook(0),
      instances: [
        inst("a", { acquisitions: [...acquisitions], ...(holders ? { holders: { ...holders } } : {}) }),
      ],
    };
    expect(holderCheck(book, "k", asker)).toEqual(expected);
  });

  test("acquire records the asking worker as holder (also of a key held without one); release and restore drop it", () => {
    let book = { ...emptyBook(0), instances: [inst("a"), inst("b", { acquisitions: ["old"], useCount: 1 })] };
    book = acquireSlot(book, "k1", s, undefined, "w1")!.book;
    book = acquireSlot(book, "k2", s, undefined, "w2")!.book;
    book = acquireSlot(book, "old", s, undefined, "w3")!.book;
    expect(book.instances.map((i) => [i.id, i.acquisitions, i.holders])).toEqual([
      ["a", ["k2"], { k2: "w2" }],
      ["b", ["old", "k1"], { k1: "w1", old: "w3" }],
    ]);
    expect(holderCheck(book, "k1", "w2")).toEqual({ ok: false, holder: "w1", instanceId: "b" });
    const released = releaseSlot(book, "k1", 5).book;
    expect(released.instances[1]).toMatchObject({ acquisitions: ["old"], holders: { old: "w3" } });
    expect(releaseSlot(released, "k2", 5).book.instances[0]!.holders).toBeUndefined();
    const restored = restoreFromStorage(book, true, 9).book;
    expect(restored.instances.map((i) => i.holders)).toEqual([undefined, undefined]);
  });

  test("state_storage restore: busy instances are deleted unless keep_instance_with_acquisitions; use counts stay; all go through readiness", () => {
    const book = {
      ...emptyBook(0),
      instances: [inst("busy", { acquisitions: ["k"], useCount: 2 }), inst("idle", { useCount: 1 })],
    };
    const dropped = restoreFromStorage(book, false, 9);
    expect(dropped.toDelete).toEqual(["busy"]);
    expect(dropped.book.instances.map((i) => [i.id, i.state, i.useCount])).toEqual([
      ["busy", "deleting", 2],
      ["idle", "creating", 1],
    ]);
    const kept = restoreFromStorage(book, true, 9);
    expect(kept.toDelete).toEqual([]);
    expect(kept.book.instances[0]).toMatchObject({
      id: "busy",
      state: "creating",
      acquisitions: [],
      useCount: 2,
    });
  });

  test("capacity: free counts ready usable slots only; total counts what is coming", () => {
    const book = {
      ...emptyBook(0),
      pending: 1,
      instances: [
        inst("a", { acquisitions: ["k"], useCount: 2 }),
        inst("c", { state: "creating" }),
        inst("d", { state: "deleting" }),
      ],
    };
    expect(capacityOf(book, s)).toEqual({ free: 1, total: 2 + 2 + 2, acquired: 1, instances: 2 });
  });

  test("housekeeping: Decrease is sent again for an instance still listed after deletion_retry_interval", () => {
    const book = {
      ...emptyBook(0),
      instances: [
        inst("old", { state: "deleting", deletingSinceMs: 0 }),
        inst("new", { state: "deleting", deletingSinceMs: 50_000 }),
      ],
    };
    expect(housekeeping(book, DELETION_RETRY_MS).retryDelete).toEqual(["old"]);
    // A deleting state the plugin reported on its own starts its clock now.
    const reported = housekeeping({ ...emptyBook(0), instances: [inst("x", { state: "deleting" })] }, 5);
    expect([reported.retryDelete, reported.book.instances[0]!.deletingSinceMs]).toEqual([[], 5]);
  });

  test("housekeeping: pending instances that never show up are forgotten after the timeout, not before", () => {
    const book = { ...emptyBook(0), pending: 3, pendingSinceMs: 0 };
    expect(housekeeping(book, PENDING_TIMEOUT_MS - 1).book.pending).toBe(3);
    expect(housekeeping(book, PENDING_TIMEOUT_MS)).toMatchObject({ forgotPending: 3, book: { pending: 0 } });
    // An instance showing up restarts the clock for the rest.
    const r = reconcile(book, new Map<string, ProviderState>([["a", "creating"]]), PENDING_TIMEOUT_MS - 10);
    expect(housekeeping(r.book, PENDING_TIMEOUT_MS).book.pending).toBe(2);
  });

  test("heartbeats: failure_threshold failures in a row make an instance unhealthy; a success in between resets the count", () => {
    const book = { ...emptyBook(0), instances: [inst("a"), inst("b")] };
    const beat = (b: AutoscalerGroupState, ok: boolean) => recordHeartbeat(b, "a", ok, 3);
    const twice = beat(beat(book, false).book, false);
    expect([twice.failures, twice.turnedUnhealthy, twice.book.instances[0]!.state]).toEqual([
      2,
      false,
      "ready",
    ]);
    const reset = beat(beat(twice.book, true).book, false);
    expect([reset.failures, reset.book.instances[0]!.state]).toEqual([1, "ready"]);
    const third = beat(twice.book, false);
    expect([third.failures, third.turnedUnhealthy, third.book.instances[0]!.state]).toEqual([
      3,
      true,
      "unhealthy",
    ]);
    expect(third.book.instances[1]).toEqual(inst("b"));
    // Excluded instances are not picked: the next ready one is.
    expect(acquireSlot(book, "job", s, new Set(["a"]))?.instanceId).toBe("b");
    expect(acquireSlot(book, "job", s, new Set(["a", "b"]))).toBeUndefined();
  });

  test("group counts in taskscaler's slot states: spent slots unavailable, an unhealthy instance's free slots unhealthy", () => {
    // capacity 2, max_use_count 3 (settings `s` above)
    const book = {
      ...emptyBook(0),
      pending: 2,
      instances: [
        inst("fresh"),
        inst("busy", { acquisitions: ["j1"], useCount: 3 }),
        inst("sick", { state: "unhealthy", acquisitions: ["j2"], useCount: 1 }),
        inst("boot", { state: "creating" }),
        inst("gone", { state: "deleting" }),
      ],
    };
    expect(groupCounts(book, s, 4)).toEqual({
      instances: { requested: 2, creating: 1, running: 3, deleting: 1 },
      tasks: { idle: 2, pending: 4, acquired: 2, reserved: 0, unavailable: 1, unhealthy: 1 },
    });
  });

  test("housekeeping follows deletion_retry_interval and instance_acquire_timeout from config.toml", () => {
    const limits = plannerSettings(
      autoscalerSettingsSchema.parse({ deletion_retry_interval: "5s", instance_acquire_timeout: "2m" }),
    );
    const book = {
      ...emptyBook(0),
      pending: 1,
      pendingSinceMs: 0,
      instances: [inst("gone", { state: "deleting", deletingSinceMs: 0 })],
    };
    expect(housekeeping(book, 4_999, limits)).toMatchObject({ retryDelete: [], forgotPending: 0 });
    expect(housekeeping(book, 5_000, limits).retryDelete).toEqual(["gone"]);
    expect(housekeeping(book, 119_999, limits).forgotPending).toBe(0);
    expect(housekeeping(book, 120_000, limits).forgotPending).toBe(1);
  });
});
