import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { matchKeyCase } from "./key-case.ts";
import { lazySection } from "./lazy-section.ts";
import { findUnknownKeys } from "./unknown-keys.ts";

/** A [[runners]]-like table with one lazily built section, and how often that section was built. */
function entryWithSection() {
  let builds = 0;
  const docker = lazySection(() => {
    builds++;
    return z.object(
      { image: z.string().optional(), privileged: z.boolean().default(false) },
      { error: "a table" },
    );
  });
  const entry = z.object({ name: z.string(), docker: docker.optional() });
  return { entry, builds: () => builds };
}

describe("lazySection", () => {
  test("an absent table is parsed, walked for unknown keys and matched for key case without building its schema", () => {
    const { entry, builds } = entryWithSection();
    expect(entry.parse({ name: "r" })).toEqual({ name: "r" });
    expect(entry.safeParse({ name: "r", docker: undefined }).success).toBe(true);
    expect(findUnknownKeys(entry, { name: "r" })).toEqual([]);
    expect(matchKeyCase(entry, { name: "r" })).toEqual([]);
    expect(builds()).toBe(0);
  });

  test("a present table builds the schema once, applies its defaults and has its keys checked", () => {
    const { entry, builds } = entryWithSection();
    expect(entry.parse({ name: "r", docker: { image: "alpine" } })).toEqual({
      name: "r",
      docker: { image: "alpine", privileged: false },
    });
    const raw = { name: "r", docker: { Image: "alpine", memroy: "1g" } };
    matchKeyCase(entry, raw);
    expect(raw.docker).toEqual({ image: "alpine", memroy: "1g" } as never);
    expect(findUnknownKeys(entry, raw).map((k) => k.path)).toEqual([["docker", "memroy"]]);
    expect(entry.safeParse({ name: "r", docker: "yes" }).error?.issues[0]?.message).toBe("a table");
    expect(builds()).toBe(1);
  });
});
