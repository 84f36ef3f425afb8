import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnRunmesh } from "../../tests/e2e/processes.ts";
import { resolveWorkerId } from "./worker-id.ts";

const dataDir = () => mkdtempSync(join(tmpdir(), "runmesh-worker-id-"));

describe("worker id", () => {
  test("a restart on the same data dir keeps the id", async () => {
    const dir = dataDir();
    const first = await resolveWorkerId({ dataDir: dir, hostname: "host-a" });
    await first.release();
    const second = await resolveWorkerId({ dataDir: dir, hostname: "host-a" });
    await second.release();
    expect(second.id).toBe(first.id);
    expect(first.id).toStartWith("host-a-");
    expect(first.id).not.toContain(String(process.pid));
  });

  test("two workers in different data dirs on one host get different ids", async () => {
    const a = await resolveWorkerId({ dataDir: dataDir(), hostname: "host-a" });
    const b = await resolveWorkerId({ dataDir: dataDir(), hostname: "host-a" });
    expect(a.id).not.toBe(b.id);
    await Promise.all([a.release(), b.release()]);
  });

  test("two live workers sharing one data dir never share an id; each gets its own back", async () => {
    const dir = dataDir();
    const a = await resolveWorkerId({ dataDir: dir, hostname: "h" });
    const b = await resolveWorkerId({ dataDir: dir, hostname: "h" });
    expect(a.id).not.toBe(b.id);
    await b.release();
    const again = await resolveWorkerId({ dataDir: dir, hostname: "h" });
    expect(again.id).toBe(b.id);
    await Promise.all([a.release(), again.release()]);
  });

  test("--id wins over [mesh] name, which wins over the persisted id; both made subject-safe", async () => {
    const dir = dataDir();
    expect((await resolveWorkerId({ id: "w.1 x", meshName: "mesh-name", dataDir: dir })).id).toBe("w-1-x");
    expect((await resolveWorkerId({ meshName: "build.box", dataDir: dir })).id).toBe("build-box");
  });
});

describe("`runmesh worker` process", () => {
  const start = (dataDir: string) => {
    const path = join(dataDir, "mesh.toml");
    writeFileSync(path, `[mesh]\nnats_url = "nats://127.0.0.1:1"\ndata_dir = ${JSON.stringify(dataDir)}\n`);
    return spawnRunmesh(["worker", "--config", path]);
  };
  const announced = async (dataDir: string) => {
    const p = start(dataDir);
    try {
      const line = await p.waitFor("worker id");
      return /"worker":"([^"]+)"/.exec(line)?.[1] ?? /worker=(\S+)/.exec(line)?.[1];
    } finally {
      p.kill("SIGKILL");
      await p.exited;
    }
  };

  test("a worker killed and restarted on its data dir comes back with its id; another data dir, another id", async () => {
    const dir = dataDir();
    const first = await announced(dir);
    const again = await announced(dir);
    const other = await announced(dataDir());
    expect(first).toBeString();
    expect(again).toBe(first);
    expect(other).not.toBe(first);
  });
});
