// A long poll woken by a new job goes straight back to GitLab with the slot lease it already
// holds, instead of returning it and asking for another: two bus round trips off the pickup
// path (issue 16). Every lease still comes back: a kept lease is returned by whatever path does
// not send the request, and at shutdown. The poller runs on the in-process bus against a
// stand-in scheduler that grants every lease and logs them, and the strict test coordinator.
import { afterEach, expect, test } from "bun:test";
import { startCoordinator } from "../../tests/coordinator/coordinator.ts";
import { startPollerRig } from "./poller-rig.ts";

const TOKEN = "glrt-kept-lease-runner-0123456789";
let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

test("a woken long poll fetches its job with the lease it held, and every other lease is returned", async () => {
  const c = await startCoordinator({ longPollMs: 50_000 });
  c.registerRunner(TOKEN);
  const { poller, log, stop } = await startPollerRig(c, { name: "kept", token: TOKEN });
  cleanup = stop;

  await c.whenLongPollHeld();
  const beforeJob = log.length;
  const leaseOfHeldPoll = log.filter((l) => l.startsWith("acquire")).at(-1);
  const job = c.enqueueJob(TOKEN, { script: ["true"], gitStrategy: "none" });
  // The job is handed out (201) to the request the woken lane sent next.
  for (let i = 0; i < 500 && job.status === "pending"; i++) await Bun.sleep(10);
  expect(job.status).not.toBe("pending");
  // Nothing between the held poll and the 201: no release of the held lease, no new acquire.
  // (Returning and re-asking would log "release lease-n", "acquire lease-n+1" here.)
  const duringPickup = log.slice(beforeJob);
  const firstAfter = duringPickup.findIndex((l) => l.startsWith("acquire"));
  expect(duringPickup.slice(0, firstAfter < 0 ? undefined : firstAfter)).toEqual([]);
  expect(leaseOfHeldPoll).toBeDefined();

  // The lane comes back for more and parks again; at shutdown every lease that did not become
  // the job's slot has been returned.
  await c.whenLongPollHeld();
  await poller.stopRequesting();
  const acquired = log.filter((l) => l.startsWith("acquire")).map((l) => l.split(" ")[1]);
  const released = new Set(log.filter((l) => l.startsWith("release")).map((l) => l.split(" ")[1]));
  const unreturned = acquired.filter((id) => !released.has(id));
  // Exactly one lease never came back: the one that carried the job (the scheduler turns it into
  // the job's slot), and it is the lease the held poll had.
  expect(unreturned).toEqual([leaseOfHeldPoll?.split(" ")[1]]);
}, 30_000);
