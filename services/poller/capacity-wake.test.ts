// A freed slot wakes as many waiting lanes as slots are free, not every lane (each woken lane
// costs a runner-state read and a lease request), and a lane refused for its own runner's
// reasons hands the wake on. The poller runs on the in-process bus against a stand-in
// scheduler that answers lease requests as told and counts them; GitLab is never asked.
import { afterEach, expect, test } from "bun:test";
import { createInprocBus } from "../../libs/bus/inproc-bus.ts";
import { parseConfig } from "../../libs/config/parse-config.ts";
import { createLogger } from "../../libs/log/logger.ts";
import { capacityChanged, leaseAcquire } from "../../libs/messages/subjects.ts";
import { configToml } from "../../tests/e2e/mesh-harness.ts";
import { pollTargets } from "./main.ts";
import { Poller } from "./poller.ts";

const logger = createLogger({ service: "test", level: "error" });
let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

/** A poller with `lanes` lanes over two runners, and the stand-in scheduler's lease log. */
async function pollerWithRefusals(refusal: string, o: { newsWithRefusal?: number; oneLane?: boolean } = {}) {
  const bus = createInprocBus({ logger });
  const asked: string[] = [];
  await bus.serve(leaseAcquire, async (m) => {
    asked.push(m.data.runnerKey);
    // Capacity freed while this refusal is on its way (the first n refusals): the news reaches
    // the poller before the refusal does, so no lane is waiting for it yet.
    if (asked.length <= (o.newsWithRefusal ?? 0)) await bus.publish(capacityChanged, { free: 1 });
    // Far beyond the test: a lane wakes only on capacity.
    return { granted: false as const, reason: refusal, retryAfterMs: 600_000 };
  });
  const fixed = "[runners.feature_flags]\nFF_USE_ADAPTIVE_REQUEST_CONCURRENCY = false";
  const { config } = parseConfig(
    configToml({
      url: "http://127.0.0.1:9",
      concurrent: 8,
      runners: o.oneLane
        ? [{ name: "a", token: "glrt-capacity-wake-a-0123456789", requestConcurrency: 1, extra: fixed }]
        : [
            { name: "a", token: "glrt-capacity-wake-a-0123456789", requestConcurrency: 2, extra: fixed },
            { name: "b", token: "glrt-capacity-wake-b-0123456789", requestConcurrency: 2, extra: fixed },
          ],
    }),
    { source: "capacity-wake.test.ts" },
  );
  const poller = new Poller({
    bus,
    logger,
    pollerId: "p1",
    systemId: "s_0123456789ab",
    checkIntervalMs: 1000,
    targets: pollTargets(config, logger),
  });
  await poller.start();
  stop = async () => {
    await poller.stopRequesting();
    await bus.close();
  };
  return { bus, asked };
}

async function settled(asked: string[], atLeast: number): Promise<number> {
  for (let i = 0; i < 200 && asked.length < atLeast; i++) await Bun.sleep(20);
  // Nothing more is coming once the wakes are spent (each woken lane asks at once).
  await Bun.sleep(300);
  return asked.length;
}

test("a full mesh: one freed slot wakes one lane, two wake two", async () => {
  const { bus, asked } = await pollerWithRefusals("concurrent = 8 reached");
  const lanes = 4;
  expect(await settled(asked, lanes)).toBe(lanes); // every lane asked once, then waits
  await bus.publish(capacityChanged, { free: 1 });
  expect(await settled(asked, lanes + 1)).toBe(lanes + 1);
  await bus.publish(capacityChanged, { free: 2 });
  expect(await settled(asked, lanes + 3)).toBe(lanes + 3);
  await bus.publish(capacityChanged, { free: 0 });
  expect(await settled(asked, lanes + 3)).toBe(lanes + 3);
});

test("a lane refused for its runner's own limit hands the wake on, once round the waiting lanes", async () => {
  const { bus, asked } = await pollerWithRefusals('limit = 1 of runner "a" reached');
  const lanes = 4;
  expect(await settled(asked, lanes)).toBe(lanes);
  await bus.publish(capacityChanged, { free: 1 });
  // Each refused lane passes the wake to the next one that was waiting when it came: all four
  // ask once (both runners had their chance), and it stops there.
  expect(await settled(asked, 2 * lanes)).toBe(2 * lanes);
  expect(new Set(asked.slice(lanes))).toEqual(new Set(asked.slice(0, lanes)));
});

test("capacity freed while a refusal travels is not lost: the lane asks again at once, once", async () => {
  // The refusal carries news with it: the lane asks again at once (a lost wake-up otherwise
  // leaves it to its retry timer, here far beyond the test). The second refusal carries news
  // too, and the lane does not ask a third time: news alone never spins a lane.
  const { asked } = await pollerWithRefusals("concurrent = 8 reached", { newsWithRefusal: 2, oneLane: true });
  expect(await settled(asked, 2)).toBe(2);
});
