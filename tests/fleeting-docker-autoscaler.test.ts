// The autoscaler driving the docker fleeting plugin as a separate go-plugin process, on a private
// dockerd: idle instances are containers running sshd created in one Increase and reachable over
// SSH with the ConnectInfo a job gets; max_use_count retires a container; idle_time removes an
// idle one; after a crash, state_storage adopts the containers a restarted plugin lists instead of
// deleting or recreating them.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInprocBus } from "../libs/bus/inproc-bus.ts";
import { autoscalerSettingsSchema } from "../libs/config/autoscaler-section.ts";
import { sshEcho } from "../libs/fleeting/conformance.ts";
import type { InstanceGroup } from "../libs/fleeting/instance-group.ts";
import { PluginProcessGroup } from "../libs/fleeting/plugin-process-group.ts";
import { createLogger } from "../libs/log/logger.ts";
import { autoscalerAcquireRpc, autoscalerReleaseRpc } from "../libs/messages/subjects.ts";
import { Autoscaler } from "../services/autoscaler/autoscaler.ts";
import { plannerSettings } from "../services/autoscaler/planner-settings.ts";
import { type Dockerd, engineAvailable, startDockerd } from "./infra/dockerd.ts";
import { buildSshdImage, SSHD_IMAGE } from "./infra/sshd-image.ts";

const logger = createLogger({ service: "fleeting-docker-test", level: "silent" });
const ENTRY = resolve(import.meta.dir, "../services/fleeting-plugin-docker/main.ts");

/** The plugin group, with the Increase/Decrease calls the autoscaler made. */
function recorded(g: InstanceGroup) {
  const calls: { op: string; arg: unknown }[] = [];
  const group: InstanceGroup = Object.assign(Object.create(g), {
    increase: (n: number) => {
      calls.push({ op: "increase", arg: n });
      return g.increase(n);
    },
    decrease: (ids: readonly string[]) => {
      calls.push({ op: "decrease", arg: [...ids] });
      return g.decrease(ids);
    },
    init: g.init.bind(g),
    update: g.update.bind(g),
    connectInfo: g.connectInfo.bind(g),
    heartbeat: g.heartbeat.bind(g),
    shutdown: g.shutdown.bind(g),
  });
  return { group, calls };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await Bun.sleep(50);
  }
}

describe.skipIf(!engineAvailable)(
  "autoscaler on the docker fleeting plugin (skipped without root and dockerd)",
  () => {
    let d: Dockerd;
    let dir: string;
    beforeAll(async () => {
      d = await startDockerd();
      await buildSshdImage(d);
      dir = await mkdtemp(join(tmpdir(), "runmesh-fleeting-docker-"));
    });
    afterAll(async () => {
      await d?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    const containers = (group: string) =>
      d
        .cli(["ps", "-aq", "--filter", `label=runmesh.fleeting.group=${group}`])
        .split("\n")
        .filter(Boolean);
    /** Asks as a worker does: again after retryAfterMs until an instance is handed out. */
    async function acquire(bus: ReturnType<typeof createInprocBus>, group: string, key: string) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const got = await bus.request(autoscalerAcquireRpc(group, "w1"), { key, waitMs: 10_000 });
        if (got.acquired) return got;
        if (Date.now() > deadline) throw new Error(got.reason);
        await Bun.sleep(Math.min(got.retryAfterMs, 500));
      }
    }

    function start(name: string, section: Record<string, unknown>, stateFile?: string) {
      const bus = createInprocBus({ logger });
      const plugin = new PluginProcessGroup({
        command: [process.execPath, ENTRY],
        name: "docker",
        runnerName: name,
        logger,
      });
      const { group, calls } = recorded(plugin);
      const a = new Autoscaler({
        bus,
        group,
        groupKey: name,
        runnerName: name,
        autoscalerId: "a1",
        logger,
        leaseTtlMs: 600,
        settings: plannerSettings(
          autoscalerSettingsSchema.parse({
            update_interval: "200ms",
            update_interval_when_expecting: "100ms",
            ...section,
          }),
        ),
        pluginConfig: {
          docker_host: d.host,
          image: SSHD_IMAGE,
          name,
          max_size: 4,
          port_range: "23300-23399",
        },
        stateFile: stateFile ? { path: stateFile, keepInstanceWithAcquisitions: false } : undefined,
      });
      return { a, bus, plugin, calls };
    }
    const ready = (a: Autoscaler) =>
      a
        .snapshot()
        .instances.filter((i) => i.state === "ready")
        .map((i) => i.id);

    test("idle_count instances are containers made in one Increase; a job's instance takes an SSH login; max_use_count retires it", async () => {
      const { a, bus, plugin, calls } = start("fleet-a", {
        max_use_count: 1,
        policy: [{ idle_count: 2, idle_time: "1h" }],
      });
      await a.start();
      await until("two ready", () => ready(a).length === 2);
      expect(calls.filter((c) => c.op === "increase")).toEqual([{ op: "increase", arg: 2 }]);
      expect(containers("fleet-a")).toHaveLength(2);
      const got = await acquire(bus, "fleet-a", "job-1");
      expect(await sshEcho(got.connectInfo, "job-on-instance")).toBe("job-on-instance");
      await bus.request(autoscalerReleaseRpc("fleet-a", "w1"), { key: "job-1" });
      await until(
        "the spent container is removed",
        () => !d.cli(["ps", "-a", "--format", "{{.Names}}"]).includes(got.instanceId),
      );
      await until("a replacement keeps two idle", () => ready(a).length === 2);
      await a.stop();
      await plugin.shutdown();
      await bus.close();
      d.cli(["rm", "-f", ...containers("fleet-a")]);
    });

    test("an idle instance is removed after idle_time", async () => {
      const { a, bus, plugin } = start("fleet-b", { policy: [{ idle_count: 0, idle_time: "1s" }] });
      await a.start();
      const got = await acquire(bus, "fleet-b", "job-1");
      expect(await sshEcho(got.connectInfo, "on-demand")).toBe("on-demand");
      expect(containers("fleet-b")).toHaveLength(1);
      await bus.request(autoscalerReleaseRpc("fleet-b", "w1"), { key: "job-1" });
      await until("the idle container is gone", () => containers("fleet-b").length === 0);
      await a.stop();
      await plugin.shutdown();
      await bus.close();
    });

    test("after a crash, state_storage adopts the containers the restarted plugin lists", async () => {
      const file = join(dir, "instances.json");
      const first = start("fleet-c", { policy: [{ idle_count: 2, idle_time: "1h" }] }, file);
      await first.a.start();
      await until("two ready", () => ready(first.a).length === 2);
      const before = ready(first.a).sort();
      first.a.abandon();
      // The host dies: its plugin process goes with it (the containers stay).
      await first.plugin.shutdown();
      await first.bus.close();
      const second = start("fleet-c", { policy: [{ idle_count: 2, idle_time: "1h" }] }, file);
      await second.a.start();
      expect(second.a.restoredFrom).toBe("state_storage");
      await until("both ready again", () => ready(second.a).length === 2);
      expect(ready(second.a).sort()).toEqual(before);
      expect(second.calls).toEqual([]);
      expect(containers("fleet-c")).toHaveLength(2);
      await second.a.stop();
      await second.plugin.shutdown();
      await second.bus.close();
      d.cli(["rm", "-f", ...containers("fleet-c")]);
    });
  },
);
