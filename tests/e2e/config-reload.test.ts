// config.toml reload as GitLab Runner does it: the file is re-read when it changes (checked
// every 3 s) and on SIGHUP; a broken file leaves the running config in force.
import { afterEach, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { statSync, writeFileSync } from "node:fs";
import type { RunnerSpec } from "./mesh-harness.ts";
import { type RunProcess, startRunProcess } from "./run-process.ts";

const A: RunnerSpec = { name: "alpha", token: "glrt-reload-alpha-0123456789" };
const B: RunnerSpec = { name: "beta", token: "glrt-reload-beta-0123456789" };
let run: RunProcess | undefined;

afterEach(async () => {
  await run?.stop();
  run = undefined;
});

const job = (token: string, text: string) =>
  run!.coordinator.enqueueJob(token, { script: [`echo ${text}`], gitStrategy: "none" });

test("a runner entry added to config.toml is polled once the change is noticed", async () => {
  run = await startRunProcess({ runners: [A], extraTokens: [B.token] });
  const { coordinator, proc } = run;
  const forB = job(B.token, "beta runs after the reload");
  expect((await coordinator.waitForFinal(job(A.token, "alpha runs").id, 20_000)).status).toBe("success");
  expect(coordinator.jobs.get(forB.id)!.status).toBe("pending");
  run.rewrite({ concurrent: 2, runners: [A, B] });
  await proc.waitFor("configuration reloaded", 15_000);
  expect((await coordinator.waitForFinal(forB.id, 20_000)).status).toBe("success");
});

test("SIGHUP reloads at once; a broken file is reported and the running config stays in force", async () => {
  run = await startRunProcess({ runners: [A] });
  const { coordinator, proc } = run;
  // The file keeps its mtime, so the 3 s mtime check never notices: only SIGHUP can reload it.
  const { mtimeNs } = statSync(run.path, { bigint: true });
  writeFileSync(run.path, "concurrent = 0\n");
  const ns = mtimeNs.toString().padStart(10, "0");
  execFileSync("touch", ["-m", "-d", `@${ns.slice(0, -9)}.${ns.slice(-9)}`, run.path]);
  expect(statSync(run.path, { bigint: true }).mtimeNs).toBe(mtimeNs);
  await Bun.sleep(3500);
  expect(proc.lines.some((l) => l.includes("configuration not reloaded"))).toBe(false);
  proc.kill("SIGHUP");
  const line = await proc.waitFor("configuration not reloaded", 10_000);
  expect(line).toContain("0 is forbidden");
  expect((await coordinator.waitForFinal(job(A.token, "alpha still runs").id, 20_000)).status).toBe(
    "success",
  );
});
