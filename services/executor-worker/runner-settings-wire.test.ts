// Runner settings cross the bus typed: what a worker receives is parsed by the runner entry's own
// zod schema at the boundary (no record-then-cast), survives the JSON trip unchanged, and can hold
// no token even when a sender puts one in.
import { describe, expect, test } from "bun:test";
import { parseConfig, shortToken, workerRunnerSettings } from "../../libs/config/index.ts";
import { workerRunnerSettingsSchema } from "../../libs/messages/subjects.ts";

const TOKEN = "glrt-wire-runner-0123456789";
const { config } = parseConfig(
  [
    "concurrent = 1",
    "[[runners]]",
    'name = "wire"',
    'url = "https://gitlab.example.com/"',
    `token = "${TOKEN}"`,
    'executor = "docker"',
    'environment = ["A=1"]',
    "output_limit = 64",
    "[runners.feature_flags]",
    "FF_TIMESTAMPS = false",
    "[runners.docker]",
    'image = "alpine:3.20"',
    'pull_policy = "if-not-present"',
    'memory = "512m"',
  ].join("\n"),
  { source: "wire.toml", hostname: "h" },
);
const sent = { ...workerRunnerSettings(config.runners[0]!), short_token: shortToken(TOKEN) };

describe("runner settings on the bus", () => {
  test("a parsed entry parses again after the JSON trip, typed and unchanged", () => {
    const received = workerRunnerSettingsSchema.parse(JSON.parse(JSON.stringify(sent)));
    expect(received).toEqual(sent);
    // Typed: no casts needed to read nested settings.
    expect(received.docker?.pull_policy).toEqual(["if-not-present"]);
    expect(received.feature_flags?.FF_TIMESTAMPS).toBe(false);
    expect(received.executor).toBe("docker");
  });

  test("a token a sender slips in never reaches the worker", () => {
    const received = workerRunnerSettingsSchema.parse({
      ...sent,
      token: TOKEN,
      token_obtained_at: "2024-01-01T00:00:00Z",
    });
    expect(JSON.stringify(received)).not.toContain(TOKEN);
    expect("token_obtained_at" in received).toBe(false);
  });

  test("settings a worker cannot trust are refused at the boundary, naming the key", () => {
    const bad = workerRunnerSettingsSchema.safeParse({ ...sent, executor: "dockr" });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.path.join("."))).toContain("executor");
    expect(workerRunnerSettingsSchema.safeParse({ ...sent, short_token: undefined }).success).toBe(false);
  });
});
