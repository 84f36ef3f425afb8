// system_id as GitLab Runner keeps it: `.runner_system_id` beside config.toml, so restarts and
// several processes sharing one config directory (docker compose --scale) are one runner
// manager in GitLab, not many.
import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { configToml } from "./mesh-harness.ts";
import { type MeshProcess, spawnRunmesh } from "./processes.ts";

const TOKEN = "glrt-identity-runner-0123456789";
let coordinator: Coordinator;
let procs: MeshProcess[] = [];

afterEach(async () => {
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
  procs = [];
  await coordinator?.stop();
});

test("two processes and a restart on one config directory show GitLab a single system_id", async () => {
  coordinator = await startCoordinator({ longPollMs: 1000 });
  coordinator.registerRunner(TOKEN);
  const dir = mkdtempSync(join(tmpdir(), "runmesh-identity-"));
  const path = join(dir, "config.toml");
  writeFileSync(
    path,
    configToml({ url: coordinator.url, concurrent: 1, runners: [{ name: "id", token: TOKEN }] }),
  );
  const run = () => {
    const p = spawnRunmesh(["run", "--config", path]);
    procs.push(p);
    return p;
  };
  const [a, b] = [run(), run()];
  await Promise.all([a.waitFor("runmesh ready"), b.waitFor("runmesh ready")]);
  const polled = () => coordinator.requests.filter((r) => r.path.endsWith("/jobs/request")).length;
  while (polled() < 4) await Bun.sleep(100);
  a.kill("SIGKILL");
  await a.exited;
  const before = polled();
  const c = run();
  await c.waitFor("runmesh ready");
  while (polled() < before + 2) await Bun.sleep(100);
  const ids = [...coordinator.managers(TOKEN).keys()];
  expect(ids.length).toBe(1);
  expect(ids[0]).toMatch(/^[sr]_[0-9a-zA-Z]{12}$/);
  expect(existsSync(join(dir, ".runner_system_id"))).toBe(true);
  expect(readFileSync(join(dir, ".runner_system_id"), "utf8").trim()).toBe(ids[0]!);
});
