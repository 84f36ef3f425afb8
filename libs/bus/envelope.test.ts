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
