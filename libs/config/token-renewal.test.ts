import { describe, expect, test } from "bun:test";
import { nextRunnerToReset, type TokenHolder, tokenRenewalTime } from "./token-renewal.ts";

const at = (iso: string) => new Date(iso);
const entry = (name: string, obtained?: string, expires?: string): TokenHolder => ({
  runnerKey: name,
  name,
  token: `glrt-${name}`,
  token_obtained_at: obtained ? at(obtained) : undefined,
  token_expires_at: expires ? at(expires) : undefined,
});

describe("token renewal (GitLab Runner's nextRunnerToReset)", () => {
  test.each([
    ["no expiry: never rotated", entry("a", "2026-01-01T00:00:00Z"), undefined],
    [
      "75 % of a 100-day lifetime",
      entry("b", "2026-01-01T00:00:00Z", "2026-04-11T00:00:00Z"),
      "2026-03-17T00:00:00.000Z",
    ],
    [
      "75 % of a 4-hour lifetime",
      entry("c", "2026-01-01T00:00:00Z", "2026-01-01T04:00:00Z"),
      "2026-01-01T03:00:00.000Z",
    ],
  ] as const)("%s", (_n, r, expected) => {
    expect(tokenRenewalTime(r)?.toISOString()).toBe(expected);
  });

  test("no token_obtained_at is Go's zero time: the reset is due long ago, so at once", () => {
    expect(tokenRenewalTime(entry("d", undefined, "2026-01-01T00:00:00Z"))!.getTime()).toBeLessThan(
      at("1600-01-01T00:00:00Z").getTime(),
    );
  });

  test("the earliest due entry goes first; entries without expiry are skipped", () => {
    const runners = [
      entry("late", "2026-01-01T00:00:00Z", "2026-12-31T00:00:00Z"),
      entry("never", "2026-01-01T00:00:00Z"),
      entry("soon", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z"),
    ];
    const next = nextRunnerToReset(runners);
    expect(next?.runner.name).toBe("soon");
    expect(next?.at.toISOString()).toBe("2026-01-04T00:00:00.000Z");
    expect(nextRunnerToReset([runners[1]!])).toBeUndefined();
  });
});
