// A worker runs only executors it has: `[mesh] worker_executors` naming one it lacks stops it at
// start (before it touches the bus) with the key, the value and what is available.
import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../libs/config/index.ts";
import { spawnRunmesh } from "../../tests/e2e/processes.ts";
import { workerExecutors } from "./main.ts";

test("worker_executors naming an executor the worker lacks is a configuration error", () => {
  expect(workerExecutors({ worker_executors: ["shell"] }).names()).toEqual(["shell"]);
  expect(() => workerExecutors({ worker_executors: ["shell", "kubernetes"] })).toThrow(ConfigError);
  expect(() => workerExecutors({ worker_executors: ["shell", "kubernetes"] })).toThrow(
    /\[mesh\] worker_executors: "kubernetes" is not an executor this worker can run; available: "shell", "docker"/,
  );
});

test("`runmesh worker` refuses to start with such an entry, with no NATS server to reach", async () => {
  const dir = mkdtempSync(join(tmpdir(), "runmesh-wexec-"));
  const path = join(dir, "mesh.toml");
  writeFileSync(
    path,
    '[mesh]\nnats_url = "nats://127.0.0.1:1"\nworker_executors = ["shell", "kubernetes"]\n',
  );
  const p = spawnRunmesh(["worker", "--config", path]);
  const code = await p.exited;
  await Bun.sleep(50);
  const out = p.lines.join("\n");
  expect(code).toBe(1);
  expect(out).toContain("configuration error");
  expect(out).toContain('[mesh] worker_executors: "kubernetes" is not an executor this worker can run');
  expect(out).not.toMatch(/connect|ECONNREFUSED/i);
});
