// A busy runner entry's shared state is written when it changes, not after every request only
// to move its last healthy check by milliseconds (issue 16: a KV write and its acknowledgement
// per job). The poller runs on the in-process bus against a stand-in scheduler that grants every
// lease, the strict test coordinator, and a clock that runs a thousand times slower than the
// wall's unless the test moves it on, so "within a second" does not depend on the machine's speed.
import { afterEach, expect, test } from "bun:test";
import { RUNNERS_BUCKET, runnerStateSchema } from "../../libs/messages/subjects.ts";
import { startCoordinator } from "../../tests/coordinator/coordinator.ts";
import { startPollerRig } from "./poller-rig.ts";
import { LAST_HEALTHY_LAG_MS } from "./runner-health.ts";

const TOKEN = "glrt-state-writes-runner-0123456789";
let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

test("jobs taken within a second leave the entry's state unwritten; a later one writes it once", async () => {
  const c = await startCoordinator({ longPollMs: 50_000 });
  c.registerRunner(TOKEN);
  const start = Date.now();
  let movedOn = 0;
  const clock = () => start + Math.floor((Date.now() - start) / 1000) + movedOn;
  const { bus, targets, stop } = await startPollerRig(c, { name: "busy", token: TOKEN, now: clock });
  cleanup = stop;
  const kv = await bus.kv(RUNNERS_BUCKET, runnerStateSchema);
  const stored = async () => (await kv.get(targets[0]!.key))!;
  const takeJob = async () => {
    await c.whenLongPollHeld();
    const job = c.enqueueJob(TOKEN, { script: ["true"], gitStrategy: "none" });
    for (let i = 0; i < 500 && job.status === "pending"; i++) await Bun.sleep(10);
    expect(job.status).not.toBe("pending");
    await c.whenLongPollHeld();
    await Bun.sleep(50); // a write the lane did not wait for has landed
  };

  await takeJob();
  const before = await stored();
  for (let i = 0; i < 6; i++) await takeJob();
  // Six healthy requests, all within a second of the stored check: nothing new to store.
  // (Writing after every request, the revision rose by at least six.)
  expect((await stored()).revision).toBe(before.revision);

  movedOn = 2 * LAST_HEALTHY_LAG_MS;
  await takeJob();
  const after = await stored();
  expect(after.revision).toBe(before.revision + 1);
  expect(after.value.lastHealthyAt).toBeGreaterThanOrEqual(start + movedOn);
  expect(after.value.failures).toBe(0);
}, 60_000);
