// Cache key sanitising, policies and restore candidates: table tests of the pure core.
import { describe, expect, test } from "bun:test";
import { fallbackKeyAllowed, parsePolicy, restoreCandidates, sanitizeCacheKey } from "./cache-key.ts";

describe("sanitizeCacheKey", () => {
  test.each([
    ["deps-protected", "deps-protected", false],
    ["main/deps", "main/deps", false],
    ["a%2Fb", "a/b", true],
    ["a%2fb%2E%2e/c", "a/b../c", true],
    ["..%2F..%2Fetc", "etc", true],
    ["../../x", "x", true],
    ["a\\b", "a/b", true],
    ["/abs/key", "abs/key", true],
    ["key  ", "key", true],
    ["a/b /  ", "a/b", true],
    ["a/./b", "a/b", true],
  ])("%p → %p (warned: %p)", (raw, key, warned) => {
    const s = sanitizeCacheKey(raw);
    expect(s.ok && s.key).toBe(key);
    expect(s.ok && s.warning !== undefined).toBe(warned);
  });

  test.each([[".."], ["%2e%2E"], ["/"], ["  "], ["a/.."]])(
    "%p has nothing left: skipped with a notice",
    (raw) => {
      const s = sanitizeCacheKey(raw);
      expect(s.ok).toBe(false);
      expect(!s.ok && s.notice).toContain(JSON.stringify(raw));
    },
  );
});

describe("policies and candidates", () => {
  test.each([
    ["", "pull-push"],
    ["pull", "pull"],
    [" push ", "push"],
    ["pull-push", "pull-push"],
  ])("policy %p is %p", (v, want) => expect(parsePolicy(v)).toBe(want as never));

  test("an unknown policy is an error naming it", () => {
    expect(parsePolicy("sometimes")).toEqual({
      error: 'unknown cache policy "sometimes": expected pull, push or pull-push',
    });
  });

  test.each([
    ["main-protected", false],
    ["main-protected. ", false],
    ["main-non_protected", true],
    ["protected-main", true],
  ])("CACHE_FALLBACK_KEY %p allowed: %p", (k, ok) => expect(fallbackKeyAllowed(k)).toBe(ok));

  test("key, then fallback_keys, then CACHE_FALLBACK_KEY, without repeats", () => {
    expect(restoreCandidates("k", ["f1", "", "k", "f2"], "g").keys).toEqual(["k", "f1", "f2", "g"]);
    const refused = restoreCandidates("k", [], "g-protected");
    expect(refused.keys).toEqual(["k"]);
    expect(refused.warnings).toEqual(['CACHE_FALLBACK_KEY "g-protected" not allowed to end in "-protected"']);
  });
});
