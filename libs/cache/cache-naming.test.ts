// FF_HASH_CACHE_KEYS naming, sharded object names, the up-to-date archive rule and the choice
// between a cache's two namings: table tests of the pure cores.
import { describe, expect, test } from "bun:test";
import { cacheNames, hashCacheKey } from "./cache-key.ts";
import { archiveUpToDate } from "./local-cache.ts";
import { cacheObjectName } from "./object-name.ts";
import { pickCacheSource } from "./remote-cache.ts";

describe("FF_HASH_CACHE_KEYS naming", () => {
  test("the hash is the key's SHA-256 in hex", () => {
    expect(hashCacheKey("deps")).toBe(new Bun.CryptoHasher("sha256").update("deps").digest("hex"));
    expect(hashCacheKey("deps")).toHaveLength(64);
  });
  test.each([
    [false, { name: "deps", hashed: false }, { name: hashCacheKey("deps"), hashed: true }],
    [true, { name: hashCacheKey("deps"), hashed: true }, { name: "deps", hashed: false }],
  ])("flag %p: primary %p, alternate %p", (on, primary, alternate) => {
    expect(cacheNames("deps", on)).toEqual({ primary, alternate });
  });
  test.each([
    [{ key: "deps", sharded: false }, "runner/abc/project/7/deps"],
    [
      { key: hashCacheKey("deps"), sharded: true },
      `runner/abc/project/7/${hashCacheKey("deps").slice(0, 2)}/${hashCacheKey("deps")}`,
    ],
    [{ key: "a", sharded: true }, undefined],
    [{ key: "../8/x", sharded: false }, undefined],
  ])("object name of %p is %p", (o, want) =>
    expect(cacheObjectName({ ...o, shared: false, shortToken: "abc", projectId: 7 })).toBe(want as string),
  );
});

describe("archive up to date", () => {
  test.each([
    [1000, [900, 1000], true],
    [1000, [], true],
    [1000, [900, 1001], false],
  ])("archive at %p, files at %p: up to date %p", (archive, files, want) =>
    expect(archiveUpToDate(archive, files)).toBe(want),
  );
});

describe("which naming a restore downloads", () => {
  const at = (modified: number) => ({ present: true as const, modified });
  const none = { present: false as const };
  test.each([
    ["both absent", none, none, "primary"],
    ["only the primary", at(5), none, "primary"],
    ["only the alternate", none, at(5), "alternate"],
    ["the alternate newer", at(5), at(6), "alternate"],
    ["the same age", at(5), at(5), "primary"],
    ["the primary newer", at(6), at(5), "primary"],
  ])("%s: %p / %p → %p", (_n, primary, alternate, want) =>
    expect(pickCacheSource(primary, alternate)).toBe(want as "primary"),
  );
});
