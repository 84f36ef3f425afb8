import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { matchKeyCase, writtenPath } from "./key-case.ts";

const schema = z.object({
  Type: z.string().optional(),
  Shared: z.boolean().optional(),
  s3: z.object({ BucketName: z.string().optional() }).optional(),
  flags: z.record(z.string(), z.boolean()).optional(),
  list: z.array(z.object({ idle_count: z.number() })).optional(),
});

describe("matchKeyCase (BurntSushi/toml field matching)", () => {
  test("renames case variants to the field, keeps key order and the values", () => {
    const raw: Record<string, unknown> = { shared: true, TYPE: "s3", other: 1 };
    expect(matchKeyCase(schema, raw)).toEqual([]);
    expect(Object.entries(raw)).toEqual([
      ["Shared", true],
      ["Type", "s3"],
      ["other", 1],
    ]);
  });

  test("descends into renamed tables and arrays of tables, not into maps", () => {
    const raw = { S3: { bucketname: "b" }, flags: { FF_X: true }, list: [{ IDLE_COUNT: 2 }] };
    matchKeyCase(schema, raw);
    expect(raw as unknown).toEqual({
      s3: { BucketName: "b" },
      flags: { FF_X: true },
      list: [{ idle_count: 2 }],
    });
  });

  test("writtenPath gives back the file's spelling", () => {
    const raw = { S3: { bucketname: "b" }, list: [{ Idle_Count: 2 }] };
    matchKeyCase(schema, raw);
    expect(writtenPath(raw, ["s3", "BucketName"])).toEqual(["S3", "bucketname"]);
    expect(writtenPath(raw, ["list", 0, "idle_count"])).toEqual(["list", 0, "Idle_Count"]);
    expect(writtenPath(raw, ["Shared"])).toEqual(["Shared"]);
  });

  test.each([
    [{ type: "a", Type: "b" }, "b", ["Type", "type"]],
    [{ Type: "b", type: "a" }, "b", ["Type", "type"]],
    [{ type: "a", TYPE: "b" }, "a", ["type", "TYPE"]],
  ])("two keys for one field (%p): the exact one, else the first, is kept", (raw, kept, written) => {
    const clashes = matchKeyCase(schema, raw);
    expect((raw as Record<string, unknown>).Type).toBe(kept);
    expect(Object.keys(raw)).toEqual(["Type"]);
    expect(clashes).toEqual([{ path: ["Type"], written }]);
  });
});
