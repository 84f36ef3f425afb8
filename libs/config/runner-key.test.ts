import { describe, expect, test } from "bun:test";
import { assertKvKey } from "../bus/store-names.ts";
import { parseConfig } from "./parse-config.ts";
import { runnerKeys } from "./runner-key.ts";
import { shortToken } from "./short-token.ts";

const entry = (token: string, extra = "") =>
  `[[runners]]\nurl = "https://gitlab.example.com"\ntoken = ${JSON.stringify(token)}\nexecutor = "shell"\n${extra}\n`;
const keysOf = (text: string) =>
  parseConfig(text, { source: "config.toml", hostname: "h", env: {} }).config.runners.map((r) => r.runnerKey);

describe("runner state keys", () => {
  test.each([
    ["glrt-*wild"],
    ["glrt-<tag>"],
    ["glrt-a b c"],
    ["glrt-.dot."],
    ["tok\u00e9n/with/slashes"],
    ["glrt-with-a-$-sign"],
  ])("a token like %p gives a key NATS KV accepts", (token) => {
    // assertKvKey is the check both bus transports run on every KV key.
    for (const key of keysOf(entry(token, 'name = "weird name * <x>"'))) {
      expect(() => assertKvKey("runmesh-runners", key)).not.toThrow();
    }
  });

  test("entries whose tokens share their first characters get distinct keys", () => {
    const a = "glrt-aaaaaaaaaaaaaaaa1";
    const b = "glrt-aaaaaaaaaaaaaaaa2";
    expect(shortToken(a)).toBe(shortToken(b));
    const keys = keysOf(entry(a) + entry(b));
    expect(new Set(keys).size).toBe(2);
  });

  test("rotating the token keeps the key (with and without a runner id)", () => {
    for (const extra of ['id = 4711\nname = "docker-1"', 'name = "docker-1"', ""]) {
      expect(keysOf(entry("glrt-old-token", extra))).toEqual(keysOf(entry("glrt-new-token", extra)));
    }
  });

  test("with a runner id, renaming the entry keeps the key", () => {
    expect(keysOf(entry("t", 'id = 7\nname = "a"'))).toEqual(keysOf(entry("t", 'id = 7\nname = "b"')));
    expect(keysOf(entry("t", 'name = "a"'))).not.toEqual(keysOf(entry("t", 'name = "b"')));
  });

  test("an entry inserted before others with other names leaves their keys alone", () => {
    const b = entry("t2", 'name = "b"');
    const c = entry("t3", 'name = "c"');
    const [, ...before] = keysOf(entry("t0", 'name = "z"') + b + c);
    expect(before).toEqual(keysOf(b + c));
  });

  test("the same GitLab runner polled twice (same url, id, token) gets two keys", () => {
    const same = entry("t", "id = 9");
    expect(new Set(keysOf(same + same)).size).toBe(2);
  });

  test("another GitLab instance with the same runner id is another entry", () => {
    const keys = runnerKeys([
      { url: "https://a.example", id: 1, name: undefined },
      { url: "https://b.example", id: 1, name: undefined },
    ]);
    expect(keys[0]).not.toBe(keys[1]);
  });

  test("keys are readable: id or name first", () => {
    expect(keysOf(entry("t", "id = 42"))[0]).toMatch(/^id42-[0-9a-f]{24}$/);
    expect(keysOf(entry("t", 'name = "docker builds #1"'))[0]).toMatch(/^docker_builds_1-[0-9a-f]{24}$/);
    expect(keysOf(entry("t"))[0]).toMatch(/^runner-[0-9a-f]{24}$/);
  });
});
