// `runmesh autoscaler` as a process of its own over a real nats-server: it takes its group's
// lease, provisions the idle target and reports capacity on the bus, and hands the lease back on
// SIGTERM. Its errors as a user meets them: no NATS, and `runmesh run` with a plugin this runmesh
// does not host. `runmesh autoscaler simulate` replays a small trace and prints its figures.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bus } from "../../libs/bus/bus.ts";
import { connectNatsBus } from "../../libs/bus/nats-bus.ts";
import { createLogger } from "../../libs/log/logger.ts";
import {
  AUTOSCALER_LEASES_BUCKET,
  type AutoscalerCapacity,
  autoscalerCapacity,
  autoscalerLeaseSchema,
} from "../../libs/messages/subjects.ts";
import { type NatsServer, startNatsServer } from "../infra/nats-server.ts";
import { spawnRunmesh } from "./processes.ts";

const logger = createLogger({ service: "autoscaler-tier-test", level: "silent" });
let dir: string;
let nats: NatsServer;
let bus: Bus;

function config(plugin: string, extra = ""): string {
  return `concurrent = 4
[[runners]]
name = "fleet"
url = "https://gitlab.example.com"
token = "glrt-autoscaler-tier-0123456789"
executor = "docker-autoscaler"
[runners.autoscaler]
plugin = "${plugin}"
capacity_per_instance = 1
max_instances = 5
update_interval = "200ms"
update_interval_when_expecting = "50ms"
${extra}
[[runners.autoscaler.policy]]
idle_count = 2
idle_time = "1h"
`;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "runmesh-autoscaler-tier-"));
  nats = await startNatsServer();
  bus = await connectNatsBus({ servers: nats.url, logger });
});

afterAll(async () => {
  await bus?.close();
  await nats?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("runmesh autoscaler", () => {
  test("over NATS: takes the group, reports the idle target as capacity and in fleeting's metrics, hands the lease back on SIGTERM", async () => {
    const path = join(dir, "memory.toml");
    await writeFile(path, `listen_address = "127.0.0.1:0"\n${config("memory")}`);
    const reports: AutoscalerCapacity[] = [];
    const sub = await bus.subscribe(autoscalerCapacity, (m) => {
      reports.push(m.data);
    });
    const p = spawnRunmesh(["autoscaler", "--config", path, "--nats", nats.url]);
    try {
      await p.waitFor("autoscaler active for the instance group");
      const deadline = Date.now() + 20_000;
      while (!reports.some((r) => r.free === 2) && Date.now() < deadline) await Bun.sleep(20);
      const last = reports.at(-1)!;
      expect({ free: last.free, instances: last.instances, maxSlots: last.maxSlots }).toEqual({
        free: 2,
        instances: 2,
        maxSlots: 5,
      });
      const { url } = JSON.parse(await p.waitFor("metrics server listening")) as { url: string };
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(
        /fleeting_taskscaler_tasks\{runner="[^"]+",runner_name="fleet",[^}]*state="idle"\} 2\n/,
      );
      expect(metrics).toMatch(/fleeting_provisioner_instances\{[^}]*state="running"\} 2\n/);
      expect(metrics).toMatch(/fleeting_taskscaler_scale_operations_total\{[^}]*operation="up"\} 2\n/);
      expect(await (await fetch(`${url}/readyz`)).text()).toBe("ready\nautoscaler: ready\n");
      const leases = await bus.kv(AUTOSCALER_LEASES_BUCKET, autoscalerLeaseSchema);
      expect((await leases.get(last.groupKey))?.value.holder).toBe(last.autoscalerId);
      p.kill("SIGTERM");
      expect(await p.exited).toBe(0);
      expect(await leases.get(last.groupKey)).toBeUndefined();
    } finally {
      p.kill("SIGKILL");
      await sub.unsubscribe();
    }
  }, 60_000);

  test("alone without NATS: refused, saying how to give it a server", async () => {
    const path = join(dir, "no-nats.toml");
    await writeFile(path, config("memory"));
    const p = spawnRunmesh(["autoscaler", "--config", path], { env: { RUNMESH_NATS_URL: "" } });
    expect(await p.exited).toBe(1);
    expect(p.lines.join("\n")).toContain(`"autoscaler" runs alone only over NATS: pass --nats`);
  }, 30_000);

  test("runmesh run with a plugin this runmesh does not host: exit 1 naming the runner and the plugin", async () => {
    const path = join(dir, "aws.toml");
    await writeFile(path, config("aws:latest"));
    const p = spawnRunmesh(["run", "--config", path], { env: { RUNMESH_NATS_URL: "" } });
    expect(await p.exited).toBe(1);
    expect(p.lines.join("\n")).toContain(
      'runner "fleet": [runners.autoscaler] plugin = "aws:latest": no such instance group in this runmesh',
    );
  }, 30_000);

  test("runmesh run: the autoscaler runs in the process and keeps its book in state_storage beside config.toml", async () => {
    const work = await mkdtemp(join(dir, "run-"));
    const path = join(work, "config.toml");
    await writeFile(
      path,
      config("memory", "[runners.autoscaler.state_storage]\nenabled = true").replace(
        "https://gitlab.example.com",
        "http://127.0.0.1:9",
      ),
    );
    const p = spawnRunmesh(["run", "--config", path, "--working-directory", work], {
      env: { RUNMESH_NATS_URL: "" },
    });
    try {
      await p.waitFor("autoscaler active for the instance group");
      const file = join(work, ".taskscaler");
      const deadline = Date.now() + 20_000;
      let book: { instances: { state: string }[] } = { instances: [] };
      while (Date.now() < deadline) {
        const dirs = await readdir(file).catch(() => [] as string[]);
        // The directory comes before the file's first write (written beside it, then renamed).
        const text =
          dirs.length === 1
            ? await readFile(join(file, dirs[0]!, "instances.json"), "utf8").catch(() => "")
            : "";
        if (text) book = JSON.parse(text);
        if (book.instances.filter((i) => i.state === "ready").length === 2) break;
        await Bun.sleep(50);
      }
      expect(book.instances.map((i) => i.state)).toEqual(["ready", "ready"]);
      p.kill("SIGTERM");
      expect(await p.exited).toBe(0);
    } finally {
      p.kill("SIGKILL");
    }
  }, 60_000);

  test("simulate: prints instance-minutes, idle cost and pickup latency for a trace", async () => {
    const path = join(dir, "simulate.toml");
    await writeFile(path, config("aws:latest"));
    const trace = join(dir, "arrivals.csv");
    await writeFile(trace, "at_s,duration_s\n300,120\n300,120\n300,120\n900,60\n");
    const p = spawnRunmesh([
      "autoscaler",
      "simulate",
      "--trace",
      trace,
      "--config",
      path,
      "--boot",
      "30",
      "--start",
      "2026-11-30T00:00:00Z",
    ]);
    expect(await p.exited).toBe(0);
    const out = p.lines.join("\n");
    expect(out).toContain(`runner "fleet": 4 jobs from ${trace}`);
    // The warm pool (idle_count 2) takes two jobs at once; the third waits for a boot (30 s).
    expect(out).toMatch(/pickup latency p50 +0 s/);
    expect(out).toMatch(/pickup latency max +30 s/);
    expect(out).toMatch(/instance-minutes +\d+/);
    expect(out).toMatch(/idle instance-minutes +\d+ \(\d+% of instance-minutes: the idle cost\)/);
  }, 30_000);
});
