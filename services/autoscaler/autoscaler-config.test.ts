import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../libs/config/index.ts";
import { loadAutoscalerConfig } from "./autoscaler-config.ts";

const TOKEN = "glrt-autoscaler-keeps-no-token-0123456789";
const dir = await mkdtemp(join(tmpdir(), "runmesh-autoscaler-config-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("config.toml as the autoscaler keeps it", () => {
  test("the runner token is cut to its short form; the group keeps the poller's runner key and its plugin_config", async () => {
    const path = join(dir, "config.toml");
    await writeFile(
      path,
      `concurrent = 2
[[runners]]
name = "fleet"
url = "https://gitlab.example.com"
token = "${TOKEN}"
executor = "docker-autoscaler"
[runners.autoscaler]
plugin = "aws"
[runners.autoscaler.plugin_config]
name = "asg-1"
`,
    );
    const full = (await loadConfig(path)).config.runners[0]!;
    const { config } = await loadAutoscalerConfig(path);
    expect(JSON.stringify(config)).not.toContain(TOKEN);
    const runner = config.runners[0]!;
    expect(runner.token).toBe("autoscale");
    expect(runner.runnerKey).toBe(full.runnerKey);
    expect(runner.autoscaler?.plugin_config).toEqual({ name: "asg-1" });
  });
});
