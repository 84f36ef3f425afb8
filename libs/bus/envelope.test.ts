import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { BusRemoteError, BusSchemaError, ENVELOPE_VERSION } from "./bus.ts";
import { decodeMessage, decodeReply, encodeMessage, encodeReplyError } from "./envelope.ts";

const schema = z.object({ n: z.number() });

describe("decodeMessage rejects at the boundary with the reason", () => {
  const cases: [string, string, string][] = [
    ["not JSON", "{oops", "not JSON"],
    ["no envelope", JSON.stringify({ n: 1 }), "not a runmesh envelope"],
    [
      "another envelope version",
      JSON.stringify({ v: ENVELOPE_VERSION + 1, data: { n: 1 } }),
      "envelope version 2",
    ],
    [
      "data breaking the schema",
      JSON.stringify({ v: ENVELOPE_VERSION, data: { n: "1" } }),
      "expected number",
    ],
  ];
  test.each(cases)("%s", (_name, raw, reason) => {
    const err = (() => {
      try {
        decodeMessage("a.b", schema, raw);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(BusSchemaError);
    expect((err as Error).message).toContain("a.b");
    expect((err as Error).message).toContain(reason);
  });
});

describe("envelope round trips", () => {
  test("a message comes back as the parsed data", () => {
    expect(decodeMessage("a.b", schema, encodeMessage("a.b", schema, { n: 3 }))).toEqual({ n: 3 });
  });

  test("the sender's data is checked before it leaves", () => {
    expect(() => encodeMessage("a.b", schema, { n: "3" })).toThrow(BusSchemaError);
  });

  test("a failed handler's reply becomes BusRemoteError carrying its name and message", () => {
    const raw = encodeReplyError(new TypeError("slot ledger is full"));
    const err = (() => {
      try {
        decodeReply("a.b", schema, raw);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(BusRemoteError);
    expect((err as BusRemoteError).remoteName).toBe("TypeError");
    expect((err as Error).message).toContain("slot ledger is full");
  });
});

describe("a message this process just encoded is not parsed again when it comes back", () => {
  /** A schema that counts its runs: its transform runs once per parse. */
  function counted() {
    let runs = 0;
    const s = z.object({ n: z.number(), tags: z.array(z.string()) }).transform((o) => {
      runs++;
      return { ...o, doubled: o.n * 2 };
    });
    return { s, runs: () => runs };
  }

  test("the receiver gets the sender's parse output, as a private copy", () => {
    const { s, runs } = counted();
    const raw = encodeMessage("a.b", s, { n: 2, tags: ["x"] });
    expect(runs()).toBe(1);
    const first = decodeMessage("a.b", s, raw);
    expect(first).toEqual({ n: 2, tags: ["x"], doubled: 4 });
    expect(runs()).toBe(1); // parsing the text again would run the transform a second time
    // Each receiver owns its copy: changing one does not change what the next one gets.
    first.tags.push("changed");
    expect(decodeMessage("a.b", s, raw)).toEqual({ n: 2, tags: ["x"], doubled: 4 });
    expect(decodeReply("a.b", s, raw)).toEqual({ n: 2, tags: ["x"], doubled: 4 });
    expect(runs()).toBe(1);
  });

  test("another schema on the same text, or text from elsewhere, is parsed in full", () => {
    const a = counted();
    const b = counted();
    const raw = encodeMessage("a.b", a.s, { n: 1, tags: [] });
    expect(decodeMessage("a.b", b.s, raw)).toEqual({ n: 1, tags: [], doubled: 2 });
    expect(b.runs()).toBe(1);
    // Not produced by encodeMessage here: checked like any received message.
    expect(() =>
      decodeMessage("a.b", a.s, JSON.stringify({ v: ENVELOPE_VERSION, data: { n: "1", tags: [] } })),
    ).toThrow(BusSchemaError);
  });
});
