// When an empty answer may be followed at once: only where Workhorse long-polls (or just let a
// held request go), never on a GitLab without long polling, never twice in a row.
import { describe, expect, test } from "bun:test";
import {
  type EmptyAnswer,
  MAX_FRUITLESS_SHORTCUTS,
  nextRequestAt,
  nextSlotAfter,
  queueMoved,
  type ScheduleInput,
  shortcutsCounted,
  unansweredLeaseWaitMs,
} from "./request-schedule.ts";

describe("queueMoved", () => {
  const base: EmptyAnswer = { sent: "v1", received: "v1", longPolling: true, fruitlessShortcuts: 0 };
  test.each<[string, Partial<EmptyAnswer>, boolean]>([
    ["same value with long polling: nothing moved", {}, false],
    ["new value with long polling: the next request is held on it", { received: "v2" }, true],
    ["new value without long polling: check_interval holds", { received: "v2", longPolling: false }, false],
    [
      "first value ever without long polling: check_interval holds",
      { sent: undefined, longPolling: false },
      false,
    ],
    ["first value ever with long polling", { sent: undefined }, true],
    ["held request let go with a bare 204", { received: undefined }, true],
    [
      "bare 204 also counts when the polling header is missing",
      { received: undefined, longPolling: false },
      true,
    ],
    [
      "bare 204 to a request that sent no value was never held",
      { sent: undefined, received: undefined },
      false,
    ],
    [
      "the long-poll cycle: released after being held on a new value, straight back to Rails",
      { received: undefined, fruitlessShortcuts: 1 },
      true,
    ],
    [
      "no more than MAX_FRUITLESS_SHORTCUTS in a row without a job",
      { received: "v2", fruitlessShortcuts: MAX_FRUITLESS_SHORTCUTS },
      false,
    ],
    [
      "bare 204s too (a Workhorse that answers without holding)",
      { received: undefined, fruitlessShortcuts: MAX_FRUITLESS_SHORTCUTS },
      false,
    ],
  ])("%s", (_name, over, expected) => {
    expect(queueMoved({ ...base, ...over })).toBe(expected);
  });
});

describe("shortcutsCounted", () => {
  test.each<[string, number, number, number, number]>([
    ["a quick answer keeps the count", 2, 20, 3000, 2],
    ["a request held check_interval or longer was as good as a wait", 2, 3000, 3000, 0],
    ["a long poll that timed out (50 s)", 2, 50_000, 3000, 0],
    ["check_interval 0 never clears it (no interval to compare with)", 2, 50_000, 0, 2],
  ])("%s", (_name, count, requestMs, intervalMs, expected) => {
    expect(shortcutsCounted(count, requestMs, intervalMs)).toBe(expected);
  });

  test("an idle lane's timeouts never spend the budget a job's wake-up needs", () => {
    // The first answer names a value, the long poll held on it times out, then a job comes.
    let count = 0;
    const answers: [Partial<EmptyAnswer>, number][] = [
      [{ sent: undefined, received: "v1" }, 5],
      [{ sent: "v1", received: undefined }, 50_000],
      [{ sent: "v1", received: undefined }, 30], // released by the job's arrival
    ];
    const followed = answers.map(([a, ms]) => {
      count = shortcutsCounted(count, ms, 3000);
      const go = queueMoved({
        sent: "v1",
        received: "v1",
        longPolling: true,
        ...a,
        fruitlessShortcuts: count,
      });
      count = go ? count + 1 : 0;
      return go;
    });
    // Counting the timeout made the third false: the job waited for the next check_interval slot.
    expect(followed).toEqual([true, true, true]);
  });
});

describe("check_interval without long polling", () => {
  test("a GitLab whose queue value changes on every answer is still asked once per interval", () => {
    // Ten answers in a row, each naming a new queue value, from a GitLab without long polling.
    let at = 0;
    let fruitlessShortcuts = 0;
    const starts: number[] = [];
    for (let i = 0; i < 10; i++) {
      starts.push(at);
      const shortcut = queueMoved({
        sent: `v${i}`,
        received: `v${i + 1}`,
        longPolling: false,
        fruitlessShortcuts,
      });
      fruitlessShortcuts = shortcut ? fruitlessShortcuts + 1 : 0;
      at = nextRequestAt({
        startedAt: at,
        endedAt: at + 20,
        checkIntervalMs: 3000,
        gotJob: false,
        strictCheckInterval: false,
        queueChanged: shortcut,
      });
    }
    expect(starts.slice(1).map((s, i) => s - (starts[i] ?? 0))).toEqual(Array(9).fill(3000));
  });
});

describe("each entry keeps its slot in the check_interval rhythm", () => {
  const base: ScheduleInput = {
    startedAt: 0,
    endedAt: 0,
    checkIntervalMs: 1000,
    gotJob: false,
    strictCheckInterval: false,
    queueChanged: false,
    slotPhaseMs: 500,
  };
  test.each<[string, Partial<ScheduleInput>, number]>([
    ["a request on its slot: the next slot", { startedAt: 1503, endedAt: 1520 }, 2500],
    [
      "a request that started off its slot (after a job): the next slot, not a full interval",
      { startedAt: 1800, endedAt: 1820 },
      2500,
    ],
    ["a long poll past the next slot: at once", { startedAt: 1500, endedAt: 4200 }, 4200],
    ["a job: at once", { startedAt: 1500, endedAt: 1520, gotJob: true }, 1520],
    [
      "strict_check_interval after a job: the next slot",
      { startedAt: 1500, endedAt: 1520, gotJob: true, strictCheckInterval: true },
      2500,
    ],
  ])("%s", (_name, over, expected) => {
    expect(nextRequestAt({ ...base, ...over })).toBe(expected);
  });

  test("nextSlotAfter is strictly after, for any phase", () => {
    expect([
      nextSlotAfter(500, 500, 1000),
      nextSlotAfter(499, 500, 1000),
      nextSlotAfter(-1, 0, 1000),
    ]).toEqual([1500, 500, 0]);
  });

  test("two entries stay half an interval apart although one of them keeps getting jobs", () => {
    // Entry A (phase 0) gets a job on every third request; entry B (phase 500) never does.
    const interval = 1000;
    const run = (phase: number, jobEvery: number) => {
      const starts: number[] = [];
      let at = phase;
      for (let i = 1; starts.length < 30; i++) {
        starts.push(at);
        const gotJob = jobEvery > 0 && i % jobEvery === 0;
        at = nextRequestAt({ ...base, slotPhaseMs: phase, startedAt: at, endedAt: at + 37, gotJob });
      }
      return starts;
    };
    const a = run(0, 3);
    const b = run(500, 0);
    // Every request of A that did not follow a job starts on A's slot; B's never move.
    const aFollowUps = a.filter((_, i) => i > 0 && i % 3 === 0);
    const aOnSlot = a.filter((s) => s % interval === 0);
    expect(aOnSlot.length + aFollowUps.length).toBe(a.length);
    expect(b.every((s) => s % interval === 500)).toBe(true);
  });
});

describe("unansweredLeaseWaitMs", () => {
  test.each<[number, number, number]>([
    [1, 3000, 100],
    [2, 3000, 200],
    [5, 3000, 1600],
    [6, 3000, 3000],
    [50, 3000, 3000],
    // check_interval below the first wait: the first wait still holds (no tight loop)
    [1, 0, 100],
    [3, 50, 100],
  ])("attempt %d with check_interval %d ms: %d ms", (attempt, interval, want) => {
    expect(unansweredLeaseWaitMs(attempt, interval)).toBe(want);
  });
});
