import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../libs/config/index.ts";
import type { ResetTokenResult } from "../../libs/gitlab/client.ts";
import { createLogger } from "../../libs/log/logger.ts";
import { TokenRotator } from "./token-rotation.ts";

const TOKEN = "glrt-rotator-unit-0123456789";

function setup(dates: { obtained: Date; expires: Date }, answers: ResetTokenResult[]) {
  const path = join(mkdtempSync(join(tmpdir(), "runmesh-rotator-")), "config.toml");
  const text = [
    "concurrent = 1",
    "[[runners]]",
    'name = "r1"',
    'url = "http://127.0.0.1:1"',
    `token = "${TOKEN}"`,
    'executor = "shell"',
    `token_obtained_at = ${dates.obtained.toISOString()}`,
    `token_expires_at = ${dates.expires.toISOString()}`,
  ].join("\n");
  writeFileSync(path, text);
  const { config } = parseConfig(text, { source: path, hostname: "h" });
  const lines: { level: string; msg: string }[] = [];
  const calls: string[] = [];
  let reloads = 0;
  const rotator = new TokenRotator({
    configPath: path,
    systemId: "s_000000000000",
    logger: createLogger({
      service: "t",
      level: "debug",
      destination: { write: (l) => lines.push(JSON.parse(l)) },
    }),
    resetToken: async (r) => {
      calls.push(r.token);
      return answers.shift() ?? { result: "failed" };
    },
    reload: async () => {
      reloads++;
    },
    retryMs: 60_000,
  });
  return { path, config, lines, calls, rotator, reloads: () => reloads };
}

const settle = () => Bun.sleep(50);

describe("TokenRotator", () => {
  test("a due token is reset, the new token and dates written to the file, then the config reloaded", async () => {
    const now = Date.now();
    const t = setup({ obtained: new Date(now - 30_000), expires: new Date(now + 10_000) }, [
      {
        result: "ok",
        status: 201,
        token: "glrt-fresh-abcdefghij",
        tokenExpiresAt: "2030-01-01T00:00:00Z",
        tokenObtainedAt: new Date(now),
      },
    ]);
    t.rotator.plan(t.config);
    await settle();
    await t.rotator.stop();
    expect(t.calls).toEqual([TOKEN]);
    const text = readFileSync(t.path, "utf8");
    expect(text).toContain('token = "glrt-fresh-abcdefghij"');
    expect(text).toContain("token_expires_at = 2030-01-01T00:00:00");
    expect(t.reloads()).toBe(1);
  });

  test("an expired token is not reset: an error says to register again", async () => {
    const now = Date.now();
    const t = setup({ obtained: new Date(now - 60_000), expires: new Date(now - 1000) }, []);
    t.rotator.plan(t.config);
    await settle();
    await t.rotator.stop();
    expect(t.calls).toEqual([]);
    expect(t.lines.some((l) => l.level === "error" && l.msg.includes("register the runner again"))).toBe(
      true,
    );
  });

  test("a refused reset is logged and retried later, not at once; the file is untouched", async () => {
    const now = Date.now();
    const t = setup({ obtained: new Date(now - 30_000), expires: new Date(now + 10_000) }, [
      { result: "forbidden", status: 403 },
    ]);
    const before = readFileSync(t.path, "utf8");
    t.rotator.plan(t.config);
    await Bun.sleep(300);
    await t.rotator.stop();
    expect(t.calls).toEqual([TOKEN]);
    expect(readFileSync(t.path, "utf8")).toBe(before);
    expect(t.lines.some((l) => l.msg.includes("failed (check used token)"))).toBe(true);
    expect(t.reloads()).toBe(0);
  });

  test("a token already rotated in the file by someone else is not reset again", async () => {
    const now = Date.now();
    const t = setup({ obtained: new Date(now - 30_000), expires: new Date(now + 10_000) }, []);
    writeFileSync(t.path, readFileSync(t.path, "utf8").replace(TOKEN, "glrt-rotated-elsewhere-0123"));
    t.rotator.plan(t.config);
    await settle();
    await t.rotator.stop();
    expect(t.calls).toEqual([]);
  });

  test("a token not yet due is not reset", async () => {
    const now = Date.now();
    const t = setup({ obtained: new Date(now), expires: new Date(now + 3_600_000) }, []);
    t.rotator.plan(t.config);
    await settle();
    await t.rotator.stop();
    expect(t.calls).toEqual([]);
  });
});
