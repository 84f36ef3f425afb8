import { describe, expect, test } from "bun:test";
import { incompleteTailStart, replaceInvalid, sequenceLength, Utf8Sanitiser } from "./utf8-sanitiser.ts";

const bytes = (...b: number[]) => new Uint8Array(b);
const enc = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("sequenceLength", () => {
  test.each<[string, number[], number]>([
    ["ASCII", [0x41], 1],
    ["2-byte", [0xc3, 0xa9], 2],
    ["3-byte", [0xe2, 0x94, 0x80], 3],
    ["4-byte", [0xf0, 0x9f, 0x90, 0xa4], 4],
    ["lone continuation", [0x80], 0],
    ["overlong 2-byte", [0xc0, 0x80], 0],
    ["overlong 3-byte", [0xe0, 0x80, 0x80], 0],
    ["surrogate", [0xed, 0xa0, 0x80], 0],
    ["above U+10FFFF", [0xf4, 0x90, 0x80, 0x80], 0],
    ["0xFF", [0xff], 0],
    ["cut 3-byte prefix", [0xe2, 0x94], -1],
    ["cut 4-byte prefix", [0xf0, 0x9f, 0x90], -1],
    ["broken 3-byte", [0xe2, 0x28, 0xa1], 0],
  ])("%s", (_n, b, expected) => {
    expect(sequenceLength(bytes(...b), 0, b.length)).toBe(expected);
  });
});

describe("incompleteTailStart", () => {
  test.each<[string, number[], number]>([
    ["complete text", [0x61, 0xc3, 0xa9], 3],
    ["cut 2-byte", [0x61, 0xc3], 1],
    ["cut 4-byte after 3", [0x61, 0xf0, 0x9f, 0x90], 1],
    ["invalid tail is not carried", [0x61, 0xff], 2],
    ["continuations only", [0x80, 0x80, 0x80, 0x80], 4],
    ["empty", [], 0],
  ])("%s", (_n, b, expected) => {
    expect(incompleteTailStart(bytes(...b))).toBe(expected);
  });
});

describe("replaceInvalid matches Go's replacement encoder (one U+FFFD per bad byte)", () => {
  test.each<[string, number[], string]>([
    [
      "0xFE and 0xFF",
      [...enc("hello a"), 0xfe, ...enc("b a"), 0xff, ...enc("b\n")],
      "hello a\ufffdb a\ufffdb\n",
    ],
    ["broken 3-byte keeps the ASCII after it", [0xe2, 0x28, 0xa1], "\ufffd(\ufffd"],
    ["a truncated sequence is one U+FFFD per byte", [0xe2, 0x94, 0x61], "\ufffd\ufffda"],
    ["surrogates are invalid", [0xed, 0xa0, 0x80], "\ufffd\ufffd\ufffd"],
  ])("%s", (_n, b, expected) => {
    expect(new TextDecoder().decode(replaceInvalid(bytes(...b)))).toBe(expected);
  });
});

describe("Utf8Sanitiser", () => {
  test("a character split across writes comes out whole", () => {
    const s = new Utf8Sanitiser();
    const chick = enc("🐤");
    const out = [
      s.push(bytes(0x61, chick[0]!)),
      s.push(chick.subarray(1, 3)),
      s.push(bytes(chick[3]!, 0x62)),
      s.end(),
    ];
    expect(out.map(hex)).toEqual(["61", "", `${hex(chick)}62`, ""]);
  });

  test("every split point of a mixed text gives back the same text", () => {
    const text = enc("aé─🐤z\n€");
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++) {
        const s = new Utf8Sanitiser();
        const parts = [
          s.push(text.subarray(0, i)),
          s.push(text.subarray(i, j)),
          s.push(text.subarray(j)),
          s.end(),
        ];
        expect(Buffer.concat(parts).toString("hex")).toBe(hex(text));
      }
    }
  });

  test("a dangling prefix at the end becomes U+FFFD per byte", () => {
    const s = new Utf8Sanitiser();
    expect(hex(s.push(bytes(0x61, 0xe2, 0x94)))).toBe("61");
    expect(new TextDecoder().decode(s.end())).toBe("\ufffd\ufffd");
  });

  test("a carried prefix that turns out invalid is replaced, the rest kept", () => {
    const s = new Utf8Sanitiser();
    s.push(bytes(0xe2));
    expect(new TextDecoder().decode(s.push(enc("xy")))).toBe("\ufffdxy");
  });

  test("valid input passes through without a copy", () => {
    const s = new Utf8Sanitiser();
    const b = enc("plain ascii and é");
    expect(s.push(b)).toBe(b);
  });
});
