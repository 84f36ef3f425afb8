import { describe, expect, test } from "bun:test";
import { isUtf8 } from "node:buffer";
import { type Clock, createTimestampedWriter, LINE_BUFFER_BYTES } from "./timestamps.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** GitLab Runner's test clock: one hour later on every read, from 2021-01-01T00:00:00Z. */
function hourlyClock(): Clock {
  let t = Date.parse("2021-01-01T00:00:00Z");
  return () => {
    t += 3_600_000;
    return t;
  };
}

function writer(clock: Clock = hourlyClock()) {
  const sunk: Uint8Array[] = [];
  const w = createTimestampedWriter((b) => sunk.push(new Uint8Array(b)), { clock });
  return { w, sunk, text: () => dec(Buffer.concat(sunk)) };
}

describe("GitLab Runner's own timestamper vectors (stream ff, stderr)", () => {
  test("lines, split lines, progress bars, CRLF, many lines per write, and a final partial line", () => {
    const { w, text } = writer();
    const put = (s: string) => w.write(255, "E", enc(s));
    put("PREFIX This is the beginning of a new line\n");
    put("PREFIX This is a split ");
    put("up ");
    put("line\n");
    put("PREFIX Progress bar: ");
    for (let i = 0; i < 10; i++) put(".\r");
    put("Done.\r\n");
    put("PREFIX Another windows new-line\r\n");
    put("PREFIX multiple\nnew\nlines\nin\none\n");
    put("\nstart");
    put("\nend\n");
    put("PREFIX Eat carriages\r\r\r\r\r\r\r\n");
    put("PREFIX This is across\ntwo lines\n");
    put("PREFIX The end");
    w.end(255, "E");
    const dots = Array.from(
      { length: 9 },
      (_, i) => `2021-01-01T${String(4 + i).padStart(2, "0")}:00:00.000000Z ffE+.\r\n`,
    );
    expect(text()).toBe(
      [
        "2021-01-01T01:00:00.000000Z ffE PREFIX This is the beginning of a new line\n",
        "2021-01-01T02:00:00.000000Z ffE PREFIX This is a split up line\n",
        "2021-01-01T03:00:00.000000Z ffE PREFIX Progress bar: .\r\n",
        ...dots,
        "2021-01-01T13:00:00.000000Z ffE+Done.\r\n",
        "2021-01-01T14:00:00.000000Z ffE PREFIX Another windows new-line\r\n",
        "2021-01-01T15:00:00.000000Z ffE PREFIX multiple\n",
        "2021-01-01T16:00:00.000000Z ffE new\n",
        "2021-01-01T17:00:00.000000Z ffE lines\n",
        "2021-01-01T18:00:00.000000Z ffE in\n",
        "2021-01-01T19:00:00.000000Z ffE one\n",
        "2021-01-01T20:00:00.000000Z ffE \n",
        "2021-01-01T21:00:00.000000Z ffE start\n",
        "2021-01-01T22:00:00.000000Z ffE end\n",
        "2021-01-01T23:00:00.000000Z ffE PREFIX Eat carriages\r\r\r\r\r\r\r\n",
        "2021-01-02T00:00:00.000000Z ffE PREFIX This is across\n",
        "2021-01-02T01:00:00.000000Z ffE two lines\n",
        "2021-01-02T02:00:00.000000Z ffE PREFIX The end\n",
      ].join(""),
    );
  });

  test("a partial line past 8 KiB is flushed and continued with '+'", () => {
    const { w, text } = writer();
    const put = (s: string) => w.write(255, "E", enc(s));
    put("PREFIX This is the beginning of a new line\n");
    put("We have no new line character in this write");
    put("... The line is now flushed.\n");
    put("large continuous write incoming");
    put(".".repeat(LINE_BUFFER_BYTES));
    put(".".repeat(LINE_BUFFER_BYTES + 1));
    put("ended\n");
    w.end(255, "E");
    expect(text()).toBe(
      [
        "2021-01-01T01:00:00.000000Z ffE PREFIX This is the beginning of a new line\n",
        "2021-01-01T02:00:00.000000Z ffE We have no new line character in this write... The line is now flushed.\n",
        `2021-01-01T03:00:00.000000Z ffE large continuous write incoming${".".repeat(LINE_BUFFER_BYTES)}\n`,
        `2021-01-01T04:00:00.000000Z ffE+${".".repeat(LINE_BUFFER_BYTES + 1)}\n`,
        "2021-01-01T05:00:00.000000Z ffE+ended\n",
      ].join(""),
    );
  });
});

describe("header", () => {
  test.each<[string, number, number, "O" | "E", string]>([
    [
      "microseconds, zero-padded",
      Date.parse("2024-05-06T07:08:09Z") + 5.25,
      1,
      "O",
      "2024-05-06T07:08:09.005250Z 01O ",
    ],
    [
      "the runner stream on stdout",
      Date.parse("2024-12-31T23:59:59Z") + 999.999,
      0,
      "O",
      "2024-12-31T23:59:59.999999Z 00O ",
    ],
    [
      "a two-digit hex stream on stderr",
      Date.parse("2000-01-01T00:00:00Z"),
      0x1f,
      "E",
      "2000-01-01T00:00:00.000000Z 1fE ",
    ],
  ])("%s", (_, ms, stream, type, expected) => {
    const { w, text } = writer(() => ms);
    w.write(stream, type, enc("x\n"));
    expect(text()).toBe(`${expected}x\n`);
  });

  test("the time is read when a line starts, not when it ends", () => {
    let now = Date.parse("2024-01-01T00:00:00Z");
    const { w, text } = writer(() => now);
    w.write(1, "O", enc("started "));
    now += 1500;
    w.write(1, "O", enc("finished\n"));
    expect(text()).toBe("2024-01-01T00:00:00.000000Z 01O started finished\n");
  });

  test("a stream id outside a byte is refused", () => {
    const { w } = writer();
    expect(() => w.write(256, "O", enc("x"))).toThrow(/0–255/);
  });
});

describe("streams", () => {
  test("each stream keeps its own partial line; end() flushes it with a newline", () => {
    const { w, text } = writer(() => Date.parse("2024-01-01T00:00:00Z"));
    w.write(1, "O", enc("out part"));
    w.write(1, "E", enc("err line\n"));
    w.write(0, "O", enc("runner line\n"));
    w.write(1, "O", enc(" two\nout tail"));
    w.end(1, "O");
    w.end(1, "O");
    w.endAll();
    expect(text()).toBe(
      [
        "2024-01-01T00:00:00.000000Z 01E err line\n",
        "2024-01-01T00:00:00.000000Z 00O runner line\n",
        "2024-01-01T00:00:00.000000Z 01O out part two\n",
        "2024-01-01T00:00:00.000000Z 01O out tail\n",
      ].join(""),
    );
  });

  test("nothing is written for a partial line until it ends", () => {
    const { w, sunk } = writer();
    w.write(1, "O", enc("no newline yet"));
    expect(sunk).toHaveLength(0);
  });

  test("a forced flush of a long line never cuts a UTF-8 character", () => {
    const { w, sunk, text } = writer(() => Date.parse("2024-01-01T00:00:00Z"));
    const e = enc("é".repeat(LINE_BUFFER_BYTES)); // 2 bytes each
    // Odd-length writes: the 8 KiB flush lands inside an "é".
    w.write(1, "O", e.subarray(0, 5001));
    w.write(1, "O", e.subarray(5001, 11001));
    w.write(1, "O", e.subarray(11001, 12000));
    w.write(1, "O", enc("\n"));
    for (const b of sunk) expect(isUtf8(b)).toBe(true);
    const lines = text().split("\n").filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[1]!.slice(27, 32)).toBe(" 01O+");
    expect(lines.map((l) => l.slice(32)).join("")).toBe("é".repeat(6000));
  });
});
