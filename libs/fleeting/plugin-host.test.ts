// The plugin host against plugins run as separate processes through go-plugin's handshake: the
// in-memory fixture (testdata/memory-plugin.ts) in each of its modes.
import { afterEach, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { join } from "node:path";
import pino from "pino";
import { InstanceUnhealthyError } from "./instance-group.ts";
import { orphansOf, sweepOrphanedPlugins } from "./orphan-sweep.ts";
import { HOST_MARKER_ENV, RUNMESH_WIRE } from "./plugin-constants.ts";
import { launchPlugin, type PluginProcess } from "./plugin-host.ts";

const FIXTURE = [process.execPath, join(import.meta.dir, "testdata/memory-plugin.ts")];

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "trace" }, { write: (l: string) => lines.push(JSON.parse(l)) });
  return { logger, lines };
}

const started: PluginProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.kill()));
});

async function launch(mode: string, extra: Record<string, string> = {}) {
  const { logger, lines } = capture();
  const p = await launchPlugin({
    command: FIXTURE,
    name: "fixture",
    logger,
    env: { ...process.env, FIXTURE_MODE: mode, ...extra },
  });
  started.push(p);
  return { p, lines };
}

describe("fleeting plugin host", () => {
  test("starts a plugin process, checks its health and drives the InstanceGroup over gRPC", async () => {
    const { p } = await launch("plain");
    expect(p.handshake).toMatchObject({ core: 1, appVersion: 1, network: "unix", protocol: "grpc" });
    expect(p.handshake.address).toMatch(/\/plugin\d+$/);
    expect(await p.health()).toBe(true);
    const info = await p.group.init(
      { any: "config" },
      { connectorConfig: { username: "root", keepaliveMs: 10_000 } },
    );
    expect(info).toMatchObject({ id: "memory/test", maxSize: 3 });
    expect(await p.group.increase(5)).toMatchObject({ succeeded: 3 });
    const seen: string[] = [];
    await p.group.update((id, state) => seen.push(`${id}=${state}`));
    expect(seen.sort()).toEqual(["fx-0=running", "fx-1=running", "fx-2=running"]);
    expect(await p.group.connectInfo("fx-1")).toMatchObject({
      id: "fx-1",
      username: "root",
      keepaliveMs: 10_000,
    });
    const d = await p.group.decrease(["fx-0", "nope"]);
    expect(d.succeeded).toEqual(["fx-0"]);
    expect(d.error?.message).toContain("no such instances: nope");
  });

  test("learns a plugin's own schema through reflection: other package, names and field numbers", async () => {
    const { p } = await launch("renumbered");
    expect(p.schema).toMatchObject({ source: "reflection", service: "elsewhere.fleeting.v9.InstanceGroup" });
    expect(p.schema.files).toEqual(["elsewhere/fleeting.proto"]);
    await p.group.init({}, { connectorConfig: { username: "u" } });
    expect((await p.group.increase(2)).succeeded).toBe(2);
    expect(await p.group.connectInfo("fx-0")).toMatchObject({ id: "fx-0", username: "u" });
  });

  test("falls back to the built-in schema when the plugin serves no reflection, and says so", async () => {
    const { p, lines } = await launch("no-reflection");
    expect(p.schema).toMatchObject({ source: "built-in", service: RUNMESH_WIRE.service });
    expect((await p.group.increase(1)).succeeded).toBe(1);
    expect(lines.some((l) => String(l.msg).includes("serves no reflection"))).toBe(true);
  });

  test("the plugin's hclog stderr and its stdio after the handshake reach the host's log", async () => {
    const { p, lines } = await launch("plain");
    await p.group.init({}, { connectorConfig: {} });
    const deadline = Date.now() + 5000;
    const has = (msg: string) => lines.some((l) => l.msg === msg);
    // The hclog line (stderr) and the stdio lines (gRPC streams) travel apart: wait for all three.
    const expected = ["fixture init", "fixture stdout after init", "fixture stderr after init"];
    while (Date.now() < deadline && !expected.every(has)) await Bun.sleep(20);
    expect(lines.find((l) => l.msg === "fixture init")).toMatchObject({
      level: 30,
      plugin: "fixture",
      mode: "plain",
    });
    expect(lines.find((l) => l.msg === "fixture stdout after init")).toMatchObject({ channel: "stdout" });
    expect(lines.find((l) => l.msg === "fixture stderr after init")).toMatchObject({ channel: "stderr" });
  });

  test("Heartbeat's unhealthy answer becomes InstanceUnhealthyError naming the instance", async () => {
    const { p } = await launch("plain", { FIXTURE_UNHEALTHY: '["fx-0"]' });
    await p.group.init({}, { connectorConfig: {} });
    await p.group.increase(2);
    await p.group.heartbeat("fx-1");
    const err = await p.group.heartbeat("fx-0").catch((e) => e);
    expect(err).toBeInstanceOf(InstanceUnhealthyError);
    expect(err.message).toContain("instance fx-0 is unhealthy");
    expect(err.message).toContain("marked by the test");
  });

  test("controller Shutdown ends the plugin by itself: it exits 0, not killed", async () => {
    const { p } = await launch("plain");
    await p.kill();
    expect(await p.exited).toBe(0);
  });

  test("a plugin that ignores Shutdown is killed with its process group after the grace", async () => {
    const { p, lines } = await launch("stubborn");
    await p.kill();
    expect(await p.exited).toBe("SIGKILL");
    expect(lines.some((l) => l.msg === "plugin failed to exit gracefully")).toBe(true);
  });

  test("refuses a plugin started without the right cookie, with the plugin's own words", async () => {
    const { logger } = capture();
    const err = await launchPlugin({
      command: FIXTURE,
      name: "fixture",
      logger,
      wire: { cookieValue: "wrong" },
    }).catch((e) => e);
    expect(err.message).toContain('fleeting plugin "fixture"');
    expect(err.message).toContain("exited (1) before the handshake: This binary is a plugin.");
  });

  test("refuses a plugin that answers with an app version the host did not offer", async () => {
    const { logger } = capture();
    const err = await launchPlugin({
      command: FIXTURE,
      name: "fixture",
      logger,
      wire: { protocolVersions: [7] },
    }).catch((e) => e);
    expect(err.message).toContain(
      "Incompatible API version with plugin. Plugin version: 1, Client versions: [7]",
    );
  });
});

describe("orphaned plugins", () => {
  test.each([
    ["host gone", [{ pid: 10, marker: "99:500" }], {}, [10]],
    ["host alive", [{ pid: 10, marker: "99:500" }], { 99: "500" }, []],
    ["host pid reused by another process", [{ pid: 10, marker: "99:500" }], { 99: "777" }, [10]],
  ])("%s", (_n, plugins, alive, want) => {
    expect(orphansOf(plugins, (pid) => (alive as Record<number, string>)[pid])).toEqual(want);
  });

  test("a plugin whose host died is killed on sweep; one of a live host is left alone", async () => {
    const start = (marker: string) =>
      spawn(FIXTURE[0]!, [FIXTURE[1]!], {
        env: {
          ...process.env,
          [RUNMESH_WIRE.cookieKey]: RUNMESH_WIRE.cookieValue,
          [HOST_MARKER_ENV]: marker,
        },
        stdio: ["ignore", "pipe", "ignore"],
        detached: true,
      });
    const orphan = start("2147483000:1");
    const { p } = await launch("plain");
    await new Promise((r) => orphan.stdout!.once("data", r));
    const gone = new Promise((r) => orphan.once("exit", (_c, s) => r(s)));
    const swept = sweepOrphanedPlugins();
    expect(swept).toContain(orphan.pid!);
    expect(swept).not.toContain(p.pid);
    expect(await gone).toBe("SIGKILL");
    expect(await p.health()).toBe(true);
  });
});
