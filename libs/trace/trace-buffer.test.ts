import { afterEach, describe, expect, test } from "bun:test";
import {
  charBoundaryAtOrBefore,
  limitExceededNotice,
  TraceBuffer,
  type TraceTransform,
} from "./trace-buffer.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const crcOf = (b: Uint8Array) => `crc32:${Bun.hash.crc32(b).toString(16).padStart(8, "0")}`;

const open: TraceBuffer[] = [];
async function buffer(opts: Parameters<typeof TraceBuffer.create>[0] = {}) {
  const b = await TraceBuffer.create(opts);
  open.push(b);
  return b;
}
afterEach(async () => {
  for (const b of open.splice(0)) await b.remove();
});

test("Bun's crc32 is IEEE and chains incrementally", () => {
  expect(Bun.hash.crc32(enc("123456789")).toString(16)).toBe("cbf43926");
  expect(Bun.hash.crc32(enc("6789"), Bun.hash.crc32(enc("12345"))).toString(16)).toBe("cbf43926");
});

describe("output limit, byte-exact with GitLab Runner (its own test vectors)", () => {
  test.each<[string, number, string, string]>([
    ["This is the long message", 10, "This is th", "crc32:295921ca"],
    ["0123456789", 10, "0123456789", "crc32:d4b99d81"],
    ["ǲ", 5, "ǲǲ", "crc32:318d2180"],
    ["ǲ", 6, "ǲǲǲ", "crc32:8c2a1eda"],
    ["─", 20, "──────", "crc32:f187099c"],
    ["─", 1, "", "crc32:9e261b5f"],
    ["🐤", 23, "🐤🐤🐤🐤🐤", "crc32:10e32ecd"],
    ["🐤", 24, "🐤🐤🐤🐤🐤🐤", "crc32:26e43372"],
  ])("%p ×100 with a limit of %d bytes", async (message, limit, kept, checksum) => {
    const b = await buffer({ limitBytes: limit });
    for (let i = 0; i < 100; i++) expect(b.write(enc(message))).toBe(enc(message).length);
    b.finish();
    const expected = `${kept}${limitExceededNotice(limit)}`;
    expect(dec(b.read(0, 1000))).toBe(expected);
    expect(b.size).toBe(enc(expected).length);
    expect(b.checksum()).toBe(checksum);
    expect(b.truncated).toBe(true);
  });

  test("the notice is yellow and says the limit in bytes", () => {
    expect(limitExceededNotice(4194304)).toBe(
      "\n\x1b[33;1mJob's log exceeded limit of 4194304 bytes.\nJob execution will continue but no more output will be collected.\x1b[0;m\n",
    );
  });

  test("output under the limit is kept whole, without notice", async () => {
    const b = await buffer({ limitBytes: 100 });
    b.write(enc("short\n"));
    expect(dec(b.read(0, 100))).toBe("short\n");
    expect(b.truncated).toBe(false);
  });
});

test.each<[number, number]>([
  [0, 0],
  [1, 1],
  [2, 1],
  [3, 3],
  [4, 3],
  [99, 7],
])("charBoundaryAtOrBefore(a é ─, %d) = %d", (n, expected) => {
  expect(charBoundaryAtOrBefore(enc("aé─"), n)).toBe(n > 6 ? 6 : expected);
});

describe("TraceBuffer", () => {
  test("invalid bytes become U+FFFD, split characters survive, and checksum/size describe the kept bytes", async () => {
    const b = await buffer();
    const chick = enc("🐤");
    b.write(new Uint8Array([0x61, 0xff, chick[0]!, chick[1]!]));
    b.write(chick.subarray(2));
    b.write(enc("\n"));
    b.finish();
    const kept = b.read(0, 100);
    expect(dec(kept)).toBe("a\ufffd🐤\n");
    expect(b.size).toBe(kept.length);
    expect(b.checksum()).toBe(crcOf(kept));
  });

  test("finish() flushes a dangling partial character; later writes are ignored", async () => {
    const b = await buffer();
    b.write(new Uint8Array([0x61, 0xe2, 0x94]));
    expect(b.size).toBe(1);
    b.finish();
    b.write(enc("late"));
    expect(dec(b.read(0, 100))).toBe("a\ufffd\ufffd");
  });

  test("read returns at most maxBytes from an offset, and nothing past the end", async () => {
    const b = await buffer();
    b.write(enc("0123456789"));
    expect(dec(b.read(3, 4))).toBe("3456");
    expect(dec(b.read(8, 100))).toBe("89");
    expect(b.read(10, 5)).toHaveLength(0);
    expect(b.read(50, 5)).toHaveLength(0);
  });

  test("the transform stage sees raw output before sanitising and may hold bytes back", async () => {
    const seen: string[] = [];
    let held = new Uint8Array(0);
    // Holds everything back until flush, like a masker waiting for the rest of a secret.
    const transform: TraceTransform = {
      transform(chunk) {
        seen.push(Buffer.from(chunk).toString("hex"));
        held = new Uint8Array([...held, ...chunk]);
        return new Uint8Array(0);
      },
      flush() {
        return held;
      },
    };
    const b = await buffer({ transform });
    b.write(new Uint8Array([0x61, 0xff]));
    expect(b.size).toBe(0);
    expect(seen).toEqual(["61ff"]);
    b.finish();
    expect(dec(b.read(0, 10))).toBe("a\ufffd");
  });

  test("no file is left behind in the temp dir", async () => {
    const dir = `${require("node:os").tmpdir()}/runmesh-trace-test-${crypto.randomUUID()}`;
    require("node:fs").mkdirSync(dir);
    const b = await buffer({ dir });
    b.write(enc("x"));
    expect(require("node:fs").readdirSync(dir)).toEqual([]);
    expect(dec(b.read(0, 1))).toBe("x");
    require("node:fs").rmdirSync(dir);
  });

  test("200 MiB through the buffer does not grow memory with the output", async () => {
    const MIB = 1024 * 1024;
    const b = await buffer({ limitBytes: 512 * MIB });
    // Chunks of odd length: every boundary splits an "é" between two writes.
    const e = enc("é".repeat(32 * 1024));
    const chunks = [e.subarray(0, e.length - 1), e.subarray(1)];
    Bun.gc(true);
    const before = process.memoryUsage().rss;
    let total = 0;
    for (let i = 0; total < 200 * MIB || i % 2 === 1; i++) {
      const chunk = chunks[i % 2]!;
      b.write(chunk);
      total += chunk.length;
    }
    b.finish();
    Bun.gc(true);
    const growth = process.memoryUsage().rss - before;
    // Nothing replaced: a U+FFFD at any split would make the log longer than what was written.
    expect(b.size).toBe(total);
    expect(growth).toBeLessThan(64 * MIB);
    expect(dec(b.read(e.length - 4, 4))).toBe("éé");
  });
});
