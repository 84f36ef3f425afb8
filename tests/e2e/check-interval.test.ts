// check_interval against a GitLab without long polling (no Workhorse hold, no
// Gitlab-Ci-Builds-Polling header): every runner entry is asked once per interval, the entries
// spread across it, however often the runner's queue value changes (GitLab Runner's feedRunners).
import { afterEach, expect, test } from "bun:test";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { type Mesh, startMesh } from "./mesh-harness.ts";

const BUSY = { name: "busy", token: "glrt-busy9-check-interval-0123456789" };
const QUIET = { name: "quiet", token: "glrt-quiet-check-interval-0123456789" };

let coordinator: Coordinator | undefined;
let mesh: Mesh | undefined;
let bumper: ReturnType<typeof setInterval> | undefined;

afterEach(async () => {
  clearInterval(bumper);
  await mesh?.stop();
  await coordinator?.stop();
  mesh = coordinator = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("without long polling, a runner whose queue value keeps changing is asked no more often than a quiet one", async () => {
  coordinator = await startCoordinator({ longPollMs: 0 });
  const c = coordinator;
  c.registerRunner(BUSY.token);
  c.registerRunner(QUIET.token);
  // A busy instance: the busy runner's queue value moves all the time, with no job for it. Each
  // of its 204s names a value other than the one it sent.
  bumper = setInterval(() => c.setRunnerForbidden(BUSY.token, false), 10);
  mesh = await startMesh({
    transport: "inproc",
    config: { url: c.url, concurrent: 4, checkInterval: 1, runners: [BUSY, QUIET] },
  });
  // Let the lanes settle (first lease, first value), then count over a window of several intervals.
  await sleep(1500);
  const from = c.requests.length;
  await sleep(4500);
  const window = c.requests
    .slice(from)
    .filter((r) => r.path.endsWith("/jobs/request"))
    .map((r) => ((r.body as { token?: string }).token === BUSY.token ? "busy" : "quiet"));
  const busy = window.filter((w) => w === "busy").length;
  const quiet = window.filter((w) => w === "quiet").length;
  // Every 204 of the busy runner carried a new queue value, and no answer said long polling is on.
  expect(c.requests.every((r) => r.responseHeaders["gitlab-ci-builds-polling"] === undefined)).toBe(true);
  expect(quiet).toBeGreaterThanOrEqual(3);
  // Going straight back after a new value would ask the busy runner about twice as often.
  expect(busy).toBeLessThanOrEqual(quiet + 1);
  // Spread across the interval: the two entries take turns (one slip allowed for a loaded machine;
  // going straight back makes one entry ask twice in a row on every cycle).
  const repeats = window.filter((w, i) => i > 0 && w === window[i - 1]).length;
  expect(repeats).toBeLessThanOrEqual(1);
});

test("with long polling, a job arriving after a fruitless wake-up is picked up without waiting out check_interval", async () => {
  coordinator = await startCoordinator({ longPollMs: 50_000, traceUpdateIntervalS: 60 });
  const c = coordinator;
  c.registerRunner(QUIET.token);
  // An hour: a lane that waits out check_interval anywhere in the cycle misses the test's timeout.
  mesh = await startMesh({
    transport: "inproc",
    config: {
      url: c.url,
      concurrent: 4,
      checkInterval: 3600,
      runners: [{ ...QUIET, requestConcurrency: 2 }],
    },
  });
  // Each job wakes both parked lanes; one gets it, the other finds nothing. The next job must
  // still find a lane held: the one that ran the job, or the fruitless one back on the new value.
  for (let i = 0; i < 3; i++) {
    const job = c.enqueueJob(QUIET.token, { script: ["true"], gitStrategy: "none" });
    expect((await c.waitForFinal(job.id, 20_000)).status).toBe("success");
    await sleep(200);
  }
});

test("with long polling, a busy queue costs GitLab a bounded number of requests per lane and check_interval", async () => {
  coordinator = await startCoordinator({ longPollMs: 50_000 });
  const c = coordinator;
  c.registerRunner(BUSY.token);
  mesh = await startMesh({
    transport: "inproc",
    config: { url: c.url, concurrent: 4, checkInterval: 2, runners: [BUSY] },
  });
  await sleep(500);
  // Jobs for other runners keep moving this runner's queue value: every held request is released
  // at once and every Rails answer names a new value, with never a job for it.
  bumper = setInterval(() => c.setRunnerForbidden(BUSY.token, false), 10);
  const from = c.requests.length;
  await sleep(4000);
  const asked = c.requests.slice(from).filter((r) => r.path.endsWith("/jobs/request")).length;
  // Two intervals, one lane: at most 1 + MAX_FRUITLESS_SHORTCUTS requests per interval (one slip
  // for a loaded machine). Following every release at once would make hundreds.
  expect(asked).toBeLessThanOrEqual(2 * 3 + 3);
  expect(asked).toBeGreaterThanOrEqual(2);
});

test("with long polling, a job arriving after a long poll timed out on an idle queue is picked up at once", async () => {
  // Workhorse answers a long poll that saw no change with a bare 204 when its duration is up;
  // here that duration (20.5 s) is longer than check_interval (20 s), as in production (50 s, 3 s).
  coordinator = await startCoordinator({ longPollMs: 20_500, traceUpdateIntervalS: 60 });
  const c = coordinator;
  c.registerRunner(QUIET.token);
  let timedOut = false;
  c.events.on("longPollReleased", (_rec: unknown, outcome: unknown) => {
    if (outcome === "timeout") timedOut = true;
  });
  const heldAgain = new Promise<void>((resolve) => {
    c.events.on("longPollHeld", () => {
      if (timedOut) resolve();
    });
  });
  mesh = await startMesh({
    transport: "inproc",
    config: { url: c.url, concurrent: 2, checkInterval: 20, runners: [{ ...QUIET, requestConcurrency: 1 }] },
  });
  // The lane's first answer named a queue value (one shortcut), its long poll timed out (a second
  // one if counted), and it is held again when the job comes. Counting the timeout spent the
  // lane's budget, so the job's wake-up waited for the next check_interval slot, ~20 s away.
  await heldAgain;
  const job = c.enqueueJob(QUIET.token, { script: ["true"], gitStrategy: "none" });
  expect((await c.waitForFinal(job.id, 12_000)).status).toBe("success");
}, 90_000);
