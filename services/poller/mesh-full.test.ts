// A lease that took the mesh's last slot says so (meshFull); the poller's lanes then wait for the
// scheduler's capacityChanged instead of asking for a lease it would refuse: a refused request
// and its answer fewer per job on a busy mesh (issue 16). A capacityChanged lost on the way costs
// at most the recheck wait: the lane asks anyway after it.
import { afterEach, expect, test } from "bun:test";
import { capacityChanged } from "../../libs/messages/subjects.ts";
import { startCoordinator } from "../../tests/coordinator/coordinator.ts";
import { type PollerRigOptions, startPollerRig } from "./poller-rig.ts";

const TOKEN = "glrt-mesh-full-runner-0123456789";
let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

/** A poller whose held poll gets a job; resolves once the job is out, with the lease log then. */
async function afterOneJob(o: Omit<PollerRigOptions, "name" | "token">) {
  const c = await startCoordinator({ longPollMs: 50_000 });
  c.registerRunner(TOKEN);
  const rig = await startPollerRig(c, { name: "full", token: TOKEN, ...o });
  cleanup = rig.stop;
  await c.whenLongPollHeld();
  const acquires = () => rig.log.filter((l) => l.startsWith("acquire")).length;
  // The held poll's lease becomes the job's slot; the next acquire is the lane's next ask.
  const atJob = acquires();
  const job = c.enqueueJob(TOKEN, { script: ["true"], gitStrategy: "none" });
  for (let i = 0; i < 500 && job.status === "pending"; i++) await Bun.sleep(10);
  expect(job.status).not.toBe("pending");
  const whenAcquires = async (n: number) => {
    for (let i = 0; i < 500 && acquires() < n; i++) await Bun.sleep(10);
    return acquires();
  };
  return { rig, acquires, whenAcquires, atJob };
}

test("on a full mesh the lane waits for capacityChanged before it asks for a lease", async () => {
  // An hour's recheck: only the capacity message can bring the lane back within the test.
  const { rig, acquires, whenAcquires, atJob } = await afterOneJob({
    meshFull: true,
    meshFullRecheckMs: 3_600_000,
  });
  await Bun.sleep(300);
  expect(acquires()).toBe(atJob); // asking at once would have logged an acquire by now
  await rig.bus.publish(capacityChanged, { free: 1 });
  expect(await whenAcquires(atJob + 1)).toBe(atJob + 1);
}, 30_000);

test("with room left the lane asks again at once", async () => {
  const { whenAcquires, atJob } = await afterOneJob({ meshFull: false, meshFullRecheckMs: 3_600_000 });
  expect(await whenAcquires(atJob + 1)).toBe(atJob + 1);
}, 30_000);

test("a capacityChanged that never comes delays the lane's next ask by the recheck wait only", async () => {
  const { whenAcquires, atJob } = await afterOneJob({ meshFull: true, meshFullRecheckMs: 50 });
  expect(await whenAcquires(atJob + 1)).toBe(atJob + 1);
}, 30_000);
