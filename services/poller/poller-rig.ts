// A poller on the in-process bus for tests, against a stand-in scheduler that grants every slot
// lease and logs each acquire and release, talking to the given (test) coordinator. Test-only:
// no service imports it.
import { createInprocBus } from "../../libs/bus/inproc-bus.ts";
import { parseConfig } from "../../libs/config/parse-config.ts";
import { createLogger } from "../../libs/log/logger.ts";
import { leaseAcquire, leaseRelease, leaseRenew } from "../../libs/messages/subjects.ts";
import type { Coordinator } from "../../tests/coordinator/coordinator.ts";
import { configToml } from "../../tests/e2e/mesh-harness.ts";
import { pollTargets } from "./main.ts";
import { Poller } from "./poller.ts";

export interface PollerRigOptions {
  name: string;
  token: string;
  /** The poller's clock (Date.now unless given). */
  now?: () => number;
  /** Every lease the stand-in scheduler grants says it took the mesh's last slot. */
  meshFull?: boolean;
  meshFullRecheckMs?: number;
}

/** One runner entry, request_concurrency 1, adaptive concurrency off, check_interval an hour. */
export async function startPollerRig(c: Coordinator, o: PollerRigOptions) {
  const logger = createLogger({ service: "test", level: "error" });
  const bus = createInprocBus({ logger });
  const log: string[] = [];
  let next = 0;
  await bus.serve(leaseAcquire, () => {
    const leaseId = `lease-${++next}`;
    log.push(`acquire ${leaseId}`);
    return { granted: true as const, leaseId, workerId: "w1", ttlMs: 30_000, meshFull: o.meshFull };
  });
  await bus.serve(leaseRelease, (m) => {
    log.push(`release ${m.data.leaseId}`);
    return { ok: true };
  });
  await bus.serve(leaseRenew, () => ({ ok: true }));
  const { config } = parseConfig(
    configToml({
      url: c.url,
      concurrent: 4,
      runners: [
        {
          name: o.name,
          token: o.token,
          requestConcurrency: 1,
          extra: "[runners.feature_flags]\nFF_USE_ADAPTIVE_REQUEST_CONCURRENCY = false",
        },
      ],
    }),
    { source: "poller-rig.ts" },
  );
  const targets = pollTargets(config, logger);
  const poller = new Poller({
    bus,
    logger,
    pollerId: "p1",
    systemId: "s_0123456789ab",
    // An hour: only the shortcuts under test bring the lane back within a test.
    checkIntervalMs: 3_600_000,
    targets,
    ...(o.now ? { now: o.now } : {}),
    ...(o.meshFullRecheckMs ? { meshFullRecheckMs: o.meshFullRecheckMs } : {}),
  });
  await poller.start();
  return {
    bus,
    poller,
    /** "acquire lease-n" / "release lease-n", in the order the stand-in scheduler saw them. */
    log,
    targets,
    async stop() {
      await poller.stopRequesting();
      await bus.close();
      await c.stop();
    },
  };
}
