// `runmesh run` as a process: SIGQUIT drains, SIGTERM aborts (GitLab Runner's signal semantics).
import { afterEach, expect, test } from "bun:test";
import type { Coordinator } from "../coordinator/coordinator.ts";
import type { MeshProcess } from "./processes.ts";
import { type RunProcess, startRunProcess } from "./run-process.ts";

const TOKEN = "glrt-signals-runner-0123456789";
let run: RunProcess | undefined;
let coordinator: Coordinator;

afterEach(async () => {
  await run?.stop();
  run = undefined;
});

async function startRun(): Promise<MeshProcess> {
  run = await startRunProcess({ runners: [{ name: "sig", token: TOKEN }], global: "shutdown_timeout = 5" });
  coordinator = run.coordinator;
  return run.proc;
}

test("SIGQUIT stops requesting jobs and lets the running job finish before exiting 0", async () => {
  const p = await startRun();
  const first = coordinator.enqueueJob(TOKEN, {
    script: ["echo begin", "sleep 2", "echo end of first"],
    gitStrategy: "none",
  });
  await coordinator.waitForJob(first.id, (j) => j.status === "running", 20_000);
  // Signal while the poller is parked in a long poll, and wait until GitLab sees it hang up: a
  // request already on its way when the signal lands could still be handed a job (as with
  // GitLab Runner, GitLab re-queues it when it is never acknowledged).
  const held = new Promise<void>((resolve) => coordinator.events.once("longPollHeld", () => resolve()));
  if (!coordinator.requests.some((r) => r.path.endsWith("/jobs/request") && r.status === 0)) await held;
  const gone = new Promise<void>((resolve) =>
    coordinator.events.on("longPollReleased", (_rec, outcome) => outcome === "gone" && resolve()),
  );
  p.kill("SIGQUIT");
  await gone;
  const requestsBefore = coordinator.requests.filter((r) => r.path.endsWith("/jobs/request")).length;
  const second = coordinator.enqueueJob(TOKEN, { script: ["echo must not run"], gitStrategy: "none" });
  expect(await p.exited).toBe(0);
  const done = coordinator.jobs.get(first.id)!;
  expect(done.status).toBe("success");
  expect(done.traceText).toContain("end of first");
  expect(coordinator.jobs.get(second.id)?.status).toBe("pending");
  expect(coordinator.requests.filter((r) => r.path.endsWith("/jobs/request")).length).toBe(requestsBefore);
});

test("SIGTERM aborts the running job as runner_interrupted and exits within shutdown_timeout", async () => {
  const p = await startRun();
  const j = coordinator.enqueueJob(TOKEN, { script: ["echo long job", "sleep 60"], gitStrategy: "none" });
  await coordinator.waitForJob(j.id, (x) => x.traceText.includes("long job"), 20_000);
  const sentAt = Date.now();
  p.kill("SIGTERM");
  const code = await p.exited;
  const took = Date.now() - sentAt;
  const done = coordinator.jobs.get(j.id)!;
  expect(done.status).toBe("failed");
  expect(done.failureReason).toBe("runner_interrupted");
  expect(code).toBe(0);
  // shutdown_timeout = 5 s bounds the whole forceful path (a functional limit, not a benchmark).
  expect(took).toBeLessThan(5_000 + 2_000);
});
