// `log_level` with GitLab Runner's level names, as `runmesh run` reads it at start-up and on
// reload: "warning" and "panic" are valid GitLab Runner levels (logrus) and must neither stop
// the process nor a reload, and must keep only the lines logrus would keep.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCoordinator } from "../coordinator/coordinator.ts";
import { configToml, type RunnerSpec } from "./mesh-harness.ts";
import { type MeshProcess, spawnRunmesh } from "./processes.ts";
import { type RunProcess, startRunProcess } from "./run-process.ts";

const A: RunnerSpec = { name: "alpha", token: "glrt-loglevel-alpha-0123456789" };
const B: RunnerSpec = { name: "beta", token: "glrt-loglevel-beta-0123456789" };
let run: RunProcess | undefined;
let proc: MeshProcess | undefined;
const stops: (() => Promise<void>)[] = [];

afterEach(async () => {
  await run?.stop();
  run = undefined;
  proc?.kill("SIGKILL");
  await proc?.exited;
  proc = undefined;
  for (const s of stops.splice(0)) await s();
});

const levelsOf = (lines: string[]) =>
  lines.flatMap((l) => {
    try {
      return [(JSON.parse(l) as { level: string }).level];
    } catch {
      return [];
    }
  });

test('log_level = "warning" at start-up: the runner starts, runs jobs and logs warnings only', async () => {
  const c = await startCoordinator({ longPollMs: 2000, traceUpdateIntervalS: 1 });
  stops.push(() => c.stop());
  c.registerRunner(A.token);
  const path = join(mkdtempSync(join(tmpdir(), "runmesh-loglevel-")), "config.toml");
  // The unknown key gives a warning line: proof that the logger is up and writing.
  writeFileSync(
    path,
    configToml({ url: c.url, concurrent: 1, runners: [A], global: 'log_level = "warning"\nbogus_key = 1' }),
  );
  proc = spawnRunmesh(["run", "--config", path]);
  await proc.waitFor("bogus_key");
  const job = c.enqueueJob(A.token, { script: ["echo warning level"], gitStrategy: "none" });
  expect((await c.waitForFinal(job.id, 20_000)).status).toBe("success");
  const levels = levelsOf(proc.lines);
  expect(levels).toContain("warn");
  expect(levels.filter((l) => l !== "warn" && l !== "error" && l !== "fatal")).toEqual([]);
});

test('log_level = "panic" on reload is applied: the reload succeeds and info lines stop', async () => {
  run = await startRunProcess({ runners: [A], extraTokens: [B.token] });
  const { coordinator } = run;
  // The start-up runners/verify answers in the background; its line comes before the reload.
  await run.proc.waitFor("Verifying runner");
  const forB = coordinator.enqueueJob(B.token, { script: ["echo after reload"], gitStrategy: "none" });
  // The reload also adds runner B: its job succeeding proves the reload went through.
  run.rewrite({ concurrent: 2, runners: [A, B], global: 'log_level = "panic"' });
  const before = run.proc.lines.length;
  run.proc.kill("SIGHUP");
  const done = await coordinator.waitForFinal(forB.id, 20_000);
  expect(done.status).toBe("success");
  // At panic only fatal lines are kept: no "configuration reloaded", no job lines. Runner B is
  // polled only once the reload has set the level, so every line from then on must be gone; a
  // line logged between the signal and the reload (a debug line of a poll in flight) may not.
  const reloaded = done.assignedAt!;
  const late = run.proc.lines
    .slice(before)
    .filter((l) => Date.parse((JSON.parse(l) as { time: string }).time) >= reloaded);
  expect(late).toEqual([]);
});
