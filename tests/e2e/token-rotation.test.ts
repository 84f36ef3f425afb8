// Runner token rotation in `runmesh run`, as GitLab Runner's run does it: once 75 % of a token's
// lifetime has passed, POST runners/reset_authentication_token, the new token and its dates
// written back to config.toml (comments kept), and the poller moves to it; jobs keep running,
// each once. The coordinator issues tokens that live 4 s, so rotations come every ~3 s.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { configToml } from "./mesh-harness.ts";
import { type MeshProcess, spawnRunmesh } from "./processes.ts";
import { executionsOf } from "./run-count.ts";

const FIRST = "glrt-rotating-runner-0123456789";
let coordinator: Coordinator | undefined;
let proc: MeshProcess | undefined;

afterEach(async () => {
  proc?.kill("SIGKILL");
  await proc?.exited;
  await coordinator?.stop();
  proc = undefined;
  coordinator = undefined;
});

const resets = (c: Coordinator) => c.calls("POST runners/reset_authentication_token");

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

test("a token past 75 % of its lifetime is reset, written back to config.toml, and polled with from then on; jobs run once", async () => {
  const c = await startCoordinator({ longPollMs: 2000, traceUpdateIntervalS: 1 });
  coordinator = c;
  c.registerRunner(FIRST, { tokenLifetimeMs: 4000 });
  const dir = mkdtempSync(join(tmpdir(), "runmesh-rotation-"));
  const path = join(dir, "config.toml");
  const now = Date.now();
  // Obtained 30 s ago, expiring in 10 s: 75 % of its 40 s lifetime is now, so it is due at once.
  const dates = `token_obtained_at = ${new Date(now - 30_000).toISOString()}\ntoken_expires_at = ${new Date(now + 10_000).toISOString()}\n# keep this comment`;
  writeFileSync(
    path,
    configToml({ url: c.url, concurrent: 1, runners: [{ name: "rotating", token: FIRST, extra: dates }] }),
  );
  proc = spawnRunmesh(["run", "--config", path]);
  await proc.waitFor("runmesh ready");

  await until("the first reset", () => resets(c).some((r) => r.status === 201)).catch((e) => {
    console.error(proc!.lines.join("\n"), JSON.stringify(resets(c)));
    throw e;
  });
  const second = c.currentToken(FIRST);
  expect(second).not.toBe(FIRST);
  await until("config.toml to hold the new token", () => readFileSync(path, "utf8").includes(second));
  const written = readFileSync(path, "utf8");
  expect(written).not.toContain(FIRST);
  expect(written).toContain("# keep this comment");
  expect(written).toMatch(/token_expires_at = \d{4}-/);

  // The poller moves to the new token: a job enqueued now is taken with it, and runs once.
  const marks = mkdtempSync(join(tmpdir(), "runmesh-rotation-runs-"));
  const job = c.enqueueJob(second, { script: [`echo run >> ${marks}/runs`], gitStrategy: "none" });
  const done = await c.waitForFinal(job.id, 20_000);
  expect(done.status).toBe("success");
  expect(executionsOf(marks)).toBe(1);
  const takenWith = c.requests.find((r) => r.path.endsWith("/jobs/request") && r.status === 201);
  expect((takenWith?.body as { token?: string } | undefined)?.token).toBe(second);

  // The new token lives 4 s too, so it is rotated again ~3 s later: the plan follows each reload.
  await until("the second reset", () => resets(c).filter((r) => r.status === 201).length >= 2, 15_000);
  // Each reset used the token current at the time: never an old one (which GitLab would refuse).
  expect(resets(c).map((r) => r.status)).toEqual(resets(c).map(() => 201));
});

test("a runner whose token rotation is turned off only gets a warning", async () => {
  const c = await startCoordinator({ longPollMs: 2000, traceUpdateIntervalS: 1 });
  coordinator = c;
  c.registerRunner(FIRST, { tokenLifetimeMs: 60_000 });
  const dir = mkdtempSync(join(tmpdir(), "runmesh-rotation-off-"));
  const path = join(dir, "config.toml");
  const now = Date.now();
  const extra = [
    `token_obtained_at = ${new Date(now - 50_000).toISOString()}`,
    `token_expires_at = ${new Date(now + 10_000).toISOString()}`,
    "[runners.feature_flags]",
    "FF_DISABLE_AUTOMATIC_TOKEN_ROTATION = true",
  ].join("\n");
  writeFileSync(
    path,
    configToml({ url: c.url, concurrent: 1, runners: [{ name: "manual", token: FIRST, extra }] }),
  );
  proc = spawnRunmesh(["run", "--config", path]);
  await proc.waitFor("runmesh ready");
  await proc.waitFor("Automatic token rotation is disabled for runner");
  const job = c.enqueueJob(FIRST, { script: ["true"], gitStrategy: "none" });
  expect((await c.waitForFinal(job.id, 20_000)).status).toBe("success");
  expect(resets(c)).toEqual([]);
  expect(readFileSync(path, "utf8")).toContain(FIRST);
});
