import { describe, expect, test } from "bun:test";
import { createInprocBus } from "../../libs/bus/inproc-bus.ts";
import { parseConfig } from "../../libs/config/parse-config.ts";
import { MemoryInstanceGroup } from "../../libs/fleeting/memory-instance-group.ts";
import { createLogger } from "../../libs/log/logger.ts";
import { autoscaledRunners, reloadAutoscalerPolicies, startAutoscalerService, stateFileFor } from "./main.ts";

const logger = createLogger({ service: "autoscaler-test", level: "silent" });

const MEMORY_CONFIG = `concurrent = 1
[[runners]]
name = "mem"
url = "https://gitlab.example.com"
token = "glrt-mem"
executor = "instance"
[runners.autoscaler]
plugin = "memory"
`;

function config(policy: string, storage = "") {
  return parseConfig(
    `concurrent = 4
[[runners]]
name = "plain"
url = "https://gitlab.example.com"
token = "glrt-plain"
executor = "shell"
[[runners]]
name = "fleet"
url = "https://gitlab.example.com"
token = "glrt-fleet"
executor = "docker-autoscaler"
[runners.autoscaler]
plugin = "aws"
max_instances = 3
${storage}
[[runners.autoscaler.policy]]
${policy}
`,
    { source: "/etc/runmesh/config.toml" },
  ).config;
}

describe("autoscaler service entry", () => {
  test("one autoscaler per entry with [runners.autoscaler]; state_storage defaults to .taskscaler beside config.toml", () => {
    const c = config("idle_count = 1", "[runners.autoscaler.state_storage]\nenabled = true");
    const runners = autoscaledRunners(c);
    expect(runners.map((r) => r.name)).toEqual(["fleet"]);
    expect(stateFileFor("/etc/runmesh/config.toml", runners[0]!)).toEqual({
      path: `/etc/runmesh/.taskscaler/${runners[0]!.runnerKey}/instances.json`,
      keepInstanceWithAcquisitions: false,
    });
    expect(
      stateFileFor("/etc/runmesh/config.toml", autoscaledRunners(config("idle_count = 1"))[0]!),
    ).toBeUndefined();
  });

  test("a bad policy period stops the start with the runner and the pattern named", async () => {
    const bus = createInprocBus({ logger });
    await expect(
      startAutoscalerService({
        config: config(`periods = ["9 to 5"]`),
        configPath: "/x/config.toml",
        bus,
        logger,
        autoscalerId: "a",
        groupFor: () => new MemoryInstanceGroup(),
      }),
    ).rejects.toThrow(/runner "fleet": .*periods: "9 to 5"/);
    await bus.close();
  });

  test("without groupFor the entry's plugin names the group: an unknown one starts nothing and says so", async () => {
    const bus = createInprocBus({ logger });
    await expect(
      startAutoscalerService({
        config: config("idle_count = 1"),
        configPath: "/x/config.toml",
        bus,
        logger,
        autoscalerId: "a",
      }),
    ).rejects.toThrow(
      'runner "fleet": [runners.autoscaler] plugin = "aws": no such instance group in this runmesh',
    );
    const memory = parseConfig(MEMORY_CONFIG, { source: "/x/config.toml" }).config;
    const [a] = await startAutoscalerService({
      config: memory,
      configPath: "/x/config.toml",
      bus,
      logger,
      autoscalerId: "a",
    });
    expect(a!.isActive).toBe(true);
    await a!.stop();
    await bus.close();
  });

  test("a reloaded config.toml changes the policies at once; a bad period keeps the old ones", async () => {
    const bus = createInprocBus({ logger });
    const group = new MemoryInstanceGroup();
    const [a] = await startAutoscalerService({
      config: config("idle_count = 1"),
      configPath: "/x/config.toml",
      bus,
      logger,
      autoscalerId: "a",
      groupFor: () => group,
    });
    const live = () => group.list().filter((i) => i.state !== "deleting").length;
    expect(live()).toBe(1);
    reloadAutoscalerPolicies([a!], config(`periods = ["9 to 5"]\nidle_count = 3`), logger);
    await Bun.sleep(100);
    expect(live()).toBe(1);
    reloadAutoscalerPolicies([a!], config("idle_count = 3"), logger);
    for (let i = 0; i < 200 && live() < 3; i++) await Bun.sleep(10);
    expect(live()).toBe(3);
    await a!.stop();
    await bus.close();
  });

  test("starts active on the in-process bus and provisions the idle target", async () => {
    const bus = createInprocBus({ logger });
    const group = new MemoryInstanceGroup();
    const [a] = await startAutoscalerService({
      config: config("idle_count = 2"),
      configPath: "/x/config.toml",
      bus,
      logger,
      autoscalerId: "a",
      groupFor: () => group,
    });
    expect(a!.isActive).toBe(true);
    expect(group.calls).toEqual([{ op: "increase", arg: 2 }]);
    await a!.stop();
    await bus.close();
  });
});
