// When an empty answer may be followed at once: only where Workhorse long-polls (or just let a
// held request go), never on a GitLab without long polling, never twice in a row.
import { describe, expect, test } from "bun:test";
import { type EmptyAnswer, nextRequestAt, queueMoved } from "./request-schedule.ts";

describe("queueMoved", () => {
  const base: EmptyAnswer = { sent: "v1", received: "v1", longPolling: true, previousWasShortcut: false };
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
    ["never twice in a row without a job", { received: "v2", previousWasShortcut: true }, false],
    ["never twice in a row, bare 204 too", { received: undefined, previousWasShortcut: true }, false],
  ])("%s", (_name, over, expected) => {
    expect(queueMoved({ ...base, ...over })).toBe(expected);
  });
});

describe("check_interval without long polling", () => {
  test("a GitLab whose queue value changes on every answer is still asked once per interval", () => {
    // Ten answers in a row, each naming a new queue value, from a GitLab without long polling.
    let at = 0;
    let previousWasShortcut = false;
    const starts: number[] = [];
    for (let i = 0; i < 10; i++) {
      starts.push(at);
      const shortcut = queueMoved({
        sent: `v${i}`,
        received: `v${i + 1}`,
        longPolling: false,
        previousWasShortcut,
      });
      previousWasShortcut = shortcut;
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
