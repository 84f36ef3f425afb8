// The runner-state key on a real NATS KV bucket: every entry of a config.toml, whatever its
// token holds ("*", "<", "$", spaces) and however many entries share the token's first
// characters, gets its own valid key, the same one in the poller and the scheduler, and keeps
// it when its token is rotated (issue 7).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Bus } from "../libs/bus/bus.ts";
import { connectNatsBus } from "../libs/bus/nats-bus.ts";
import { parseConfig } from "../libs/config/index.ts";
import { createLogger } from "../libs/log/logger.ts";
import { RUNNERS_BUCKET, runnerStateSchema } from "../libs/messages/subjects.ts";
import { pollTargets } from "../services/poller/main.ts";
import { runnerCapacities } from "../services/scheduler/main.ts";
import { type NatsServer, startNatsServer } from "./infra/nats-server.ts";

const TOKENS = [
  "glrt-*star",
  "glrt-<angle>",
  "glrt-with space",
  "glrt-aaaaaaaaaaaa-1",
  "glrt-aaaaaaaaaaaa-2",
];
const configWith = (tokens: string[]) =>
  tokens
    .map(
      (token, i) =>
        `[[runners]]\nname = "r${i}"\nurl = "https://gitlab.example.com"\ntoken = ${JSON.stringify(token)}\nexecutor = "shell"\n`,
    )
    .join("");
const parse = (text: string) => parseConfig(text, { source: "config.toml", hostname: "h", env: {} }).config;
const logger = createLogger({ service: "test", level: "error" });

describe("runner state keys on NATS KV", () => {
  let server: NatsServer;
  let bus: Bus;
  beforeAll(async () => {
    server = await startNatsServer();
    bus = await connectNatsBus({ servers: server.url, name: "runner-state-key-test", logger });
  });
  afterAll(async () => {
    await bus?.close();
    await server?.stop();
  });

  test("every entry's state is written under its own key, the same in poller and scheduler", async () => {
    const config = parse(configWith(TOKENS));
    const keys = pollTargets(config, logger).map((t) => t.key);
    expect(runnerCapacities(config).map((r) => r.key)).toEqual(keys);
    expect(new Set(keys).size).toBe(TOKENS.length);

    const kv = await bus.kv(RUNNERS_BUCKET, runnerStateSchema);
    for (const [i, key] of keys.entries()) {
      await kv.create(key, { failures: i, lastHealthyAt: 1, adaptiveConcurrency: 1 });
    }
    for (const [i, key] of keys.entries()) expect((await kv.get(key))?.value.failures).toBe(i);
  });

  test("a rotated token finds the state its entry had", async () => {
    const rotated = (token: string) => configWith([token]).replace('name = "r0"', 'name = "rotated"');
    const before = pollTargets(parse(rotated("glrt-old-token")), logger)[0]!;
    const after = pollTargets(parse(rotated("glrt-new-token")), logger)[0]!;
    expect(after.token).toBe("glrt-new-token");
    const kv = await bus.kv(RUNNERS_BUCKET, runnerStateSchema);
    await kv.create(before.key, {
      lastUpdate: "cursor-1",
      failures: 0,
      lastHealthyAt: 1,
      adaptiveConcurrency: 1,
    });
    expect((await kv.get(after.key))?.value.lastUpdate).toBe("cursor-1");
  });
});
