// config.toml reload as GitLab Runner does it: the file is re-read when it changes (checked
// every 3 s) and on SIGHUP; a broken file leaves the running config in force.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { configToml, type RunnerSpec } from "./mesh-harness.ts";
import { type MeshProcess, spawnRunmesh } from "./processes.ts";

const A: RunnerSpec = { name: "alpha", token: "glrt-reload-alpha-0123456789" };
const B: RunnerSpec = { name: "beta", token: "glrt-reload-beta-0123456789" };
let coordinator: Coordinator;
let proc: MeshProcess | undefined;

afterEach(async () => {
  proc?.kill("SIGKILL");
  await proc?.exited;
  await coordinator?.stop();
});

async function start(): Promise<string> {
  coordinator = await startCoordinator({ longPollMs: 2000, traceUpdateIntervalS: 1 });
  coordinator.registerRunner(A.token);
  coordinator.registerRunner(B.token);
  const path = join(mkdtempSync(join(tmpdir(), "runmesh-reload-")), "config.toml");
  writeFileSync(path, configToml({ url: coordinator.url, concurrent: 2, runners: [A] }));
  proc = spawnRunmesh(["run", "--config", path]);
  await proc.waitFor("runmesh ready");
  return path;
}

const job = (token: string, text: string) =>
  coordinator.enqueueJob(token, { script: [`echo ${text}`], gitStrategy: "none" });

test("a runner entry added to config.toml is polled once the change is noticed", async () => {
  const path = await start();
  const forB = job(B.token, "beta runs after the reload");
  expect((await coordinator.waitForFinal(job(A.token, "alpha runs").id, 20_000)).status).toBe("success");
  expect(coordinator.jobs.get(forB.id)!.status).toBe("pending");
  writeFileSync(path, configToml({ url: coordinator.url, concurrent: 2, runners: [A, B] }));
  await proc!.waitFor("configuration reloaded", 15_000);
  expect((await coordinator.waitForFinal(forB.id, 20_000)).status).toBe("success");
});

test("SIGHUP reloads at once; a broken file is reported and the running config stays in force", async () => {
  const path = await start();
  writeFileSync(path, "concurrent = 0\n");
  proc!.kill("SIGHUP");
  const line = await proc!.waitFor("configuration not reloaded", 10_000);
  expect(line).toContain("0 is forbidden");
  expect((await coordinator.waitForFinal(job(A.token, "alpha still runs").id, 20_000)).status).toBe(
    "success",
  );
});
