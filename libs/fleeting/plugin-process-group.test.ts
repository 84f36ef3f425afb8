// `plugin = "static"` as the autoscaler resolves it: found as `fleeting-plugin-static` on PATH,
// run as its own process only once the group is initialised, started again if it dies, stopped
// by Shutdown.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pino from "pino";
import { resolveInstanceGroup, UnknownPluginError } from "./plugin-groups.ts";
import { PluginProcessGroup } from "./plugin-process-group.ts";

const dir = mkdtempSync(join(tmpdir(), "runmesh-plugin-path-"));
const entry = resolve(import.meta.dir, "../../services/fleeting-plugin-static/main.ts");
writeFileSync(join(dir, "fleeting-plugin-static"), `#!/bin/sh\nexec ${process.execPath} ${entry} "$@"\n`);
chmodSync(join(dir, "fleeting-plugin-static"), 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function withPath<T>(run: () => T): T {
  const saved = process.env.PATH;
  process.env.PATH = `${dir}:${saved}`;
  try {
    return run();
  } finally {
    process.env.PATH = saved;
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("fleeting plugins behind the autoscaler's seam", () => {
  const request = { plugin: "static:latest", runnerName: "fleet", runnerKey: "k1" };

  test("a plugin name found on PATH as fleeting-plugin-<name> becomes a plugin process group", () => {
    const group = withPath(() => resolveInstanceGroup(request)(request));
    expect(group).toBeInstanceOf(PluginProcessGroup);
    expect((group as PluginProcessGroup).pid).toBeUndefined();
  });

  test("a name found nowhere says where it looked, naming the runner", () => {
    const r = { ...request, plugin: "nosuch:1.2" };
    const err = (() => {
      try {
        resolveInstanceGroup(r);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(UnknownPluginError);
    expect(err!.message).toContain(
      'runner "fleet": [runners.autoscaler] plugin = "nosuch:1.2": no such instance group',
    );
    expect(err!.message).toContain("fleeting-plugin-nosuch on PATH");
  });

  test("the process starts at Init, comes back with the same config after dying, and Shutdown stops it", async () => {
    const logger = pino({ level: "silent" });
    const group = new PluginProcessGroup({
      command: [join(dir, "fleeting-plugin-static")],
      name: "static",
      runnerName: "fleet",
      logger,
    });
    await group.init({ hosts: ["127.0.0.1:1", "127.0.0.1:2"] }, { connectorConfig: {} });
    const first = group.pid!;
    expect(alive(first)).toBe(true);
    expect((await group.increase(1)).succeeded).toBe(1);
    process.kill(first, "SIGKILL");
    const seen: string[] = [];
    await group.update((id) => seen.push(id));
    // The restarted static plugin has no state_file: it starts empty, but with the same hosts.
    expect(group.pid).not.toBe(first);
    expect(seen).toEqual([]);
    expect((await group.increase(5)).succeeded).toBe(2);
    const second = group.pid!;
    await group.shutdown();
    expect(alive(second)).toBe(false);
    expect(group.pid).toBeUndefined();
  });
});
