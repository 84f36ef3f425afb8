// The group lease between two autoscalers whose wall clocks disagree: each has its own injected
// clock, the bucket is the in-process bus's KV (same compare-and-set contract as NATS KV).
import { describe, expect, test } from "bun:test";
import { createInprocBus } from "../../libs/bus/inproc-bus.ts";
import { createLogger } from "../../libs/log/logger.ts";
import { AUTOSCALER_LEASES_BUCKET, autoscalerLeaseSchema } from "../../libs/messages/subjects.ts";
import { GroupLease } from "./group-lease.ts";

const logger = createLogger({ service: "group-lease-test", level: "silent" });
const TTL = 15_000;
const TEN_MINUTES = 10 * 60_000;

async function pair(skewMs: number) {
  const bus = createInprocBus({ logger });
  const bucket = await bus.kv(AUTOSCALER_LEASES_BUCKET, autoscalerLeaseSchema);
  // One true time; the holder's clock reads it `skewMs` off, the standby's reads it right.
  let t = 1_800_000_000_000;
  const holder = new GroupLease(bucket, "g", "holder", TTL, () => t + skewMs);
  const standby = new GroupLease(bucket, "g", "standby", TTL, () => t);
  return {
    holder,
    standby,
    advance: (ms: number) => {
      t += ms;
    },
    close: () => bus.close(),
  };
}

describe("group lease and clock skew", () => {
  test.each([
    ["10 minutes behind", -TEN_MINUTES],
    ["10 minutes ahead", TEN_MINUTES],
    ["in step", 0],
  ])("a live holder whose clock is %s keeps the group: the standby never takes it", async (_, skew) => {
    const p = await pair(skew);
    expect(await p.holder.tryAcquire()).toBe(true);
    for (let beat = 0; beat < 30; beat++) {
      p.advance(TTL / 3);
      expect(await p.holder.tryAcquire()).toBe(true);
      expect(await p.standby.tryAcquire()).toBe(false);
    }
    expect(p.holder.held).toBe(true);
    await p.close();
  });

  test.each([
    ["10 minutes behind", -TEN_MINUTES],
    ["10 minutes ahead", TEN_MINUTES],
  ])(
    "a dead holder whose clock was %s: taken over one TTL after the standby last saw it change, not before",
    async (_, skew) => {
      const p = await pair(skew);
      expect(await p.holder.tryAcquire()).toBe(true);
      // The holder dies now. The standby first sees the key, then keeps looking every third of a TTL.
      expect(await p.standby.tryAcquire()).toBe(false);
      let waited = 0;
      while (!(await p.standby.tryAcquire())) {
        p.advance(TTL / 3);
        waited += TTL / 3;
        expect(waited).toBeLessThanOrEqual(2 * TTL);
      }
      expect(waited).toBeGreaterThanOrEqual(TTL);
      expect(p.standby.held).toBe(true);
      // The old holder, back after all, learns at its next renewal that the group is not its own.
      expect(await p.holder.tryAcquire()).toBe(false);
      await p.close();
    },
  );

  test("a holder that could not renew for a TTL on its own clock stops counting itself the holder", async () => {
    const p = await pair(0);
    expect(await p.holder.tryAcquire()).toBe(true);
    p.advance(TTL - 1);
    expect(p.holder.held).toBe(true);
    p.advance(1);
    expect(p.holder.held).toBe(false);
    await p.close();
  });
});
