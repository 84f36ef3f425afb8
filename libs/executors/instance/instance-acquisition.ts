// An instance for one job from the autoscaler tier, over the bus (GitLab Runner's autoscaler
// executor: taskscaler.Acquire with instance_acquire_timeout, then Release after the job). The
// active autoscaler of the runner entry's group answers at once: a slot, or "none yet, ask again
// in retryAfterMs" while it counts the job as waiting demand and scales up. So this asks again
// until a slot comes, the deadline passes or the job is canceled. No autoscaler answering (one
// starting, a standby taking over) is retried the same way until the deadline. The worker asks on
// its own subjects (only its NATS identity may publish there): the autoscaler records it as the
// acquisition's holder and refuses other workers naming the same key (issue 13); such a refusal
// ends the wait at once.
import type { Bus } from "../../bus/bus.ts";
import { autoscalerAcquireRpc, autoscalerReleaseRpc } from "../../messages/subjects.ts";
import type { InstanceConnectInfo } from "./instance-target.ts";

export interface Acquired {
  instanceId: string;
  connectInfo: InstanceConnectInfo;
}

export interface AcquireRequest {
  bus: Bus;
  /** The runner entry's key: its instance group. */
  groupKey: string;
  /** The acquisition's key (the job key): asking again with it returns the same slot. */
  key: string;
  /** The asking worker: the subject it asks on, the acquisition's holder. */
  workerId: string;
  timeoutMs: number;
  signal: AbortSignal;
  /** Names the runner in errors. */
  runnerName: string;
  /** Polling bounds (tests shorten them). */
  minRetryMs?: number;
  maxRetryMs?: number;
  requestTimeoutMs?: number;
}

export class InstanceAcquireTimeoutError extends Error {
  constructor(runnerName: string, timeoutMs: number, last: string) {
    super(
      `runner "${runnerName}": unable to acquire instance within the configured timeout of ${formatMs(timeoutMs)} ([runners.autoscaler] instance_acquire_timeout); last answer: ${last}`,
    );
    this.name = "InstanceAcquireTimeoutError";
  }
}

export async function acquireInstance(r: AcquireRequest): Promise<Acquired> {
  const deadline = Date.now() + r.timeoutMs;
  const minRetry = r.minRetryMs ?? 100;
  const maxRetry = r.maxRetryMs ?? 5_000;
  let last = "none yet";
  for (;;) {
    if (r.signal.aborted)
      throw new Error(`runner "${r.runnerName}": acquiring an instance: the job was canceled`);
    const left = deadline - Date.now();
    if (left <= 0) throw new InstanceAcquireTimeoutError(r.runnerName, r.timeoutMs, last);
    let retryMs = minRetry;
    let refused = false;
    try {
      const got = await r.bus.request(
        autoscalerAcquireRpc(r.groupKey, r.workerId),
        { key: r.key, waitMs: Math.max(0, Math.round(left)) },
        { timeoutMs: r.requestTimeoutMs ?? 10_000 },
      );
      if (got.acquired) return { instanceId: got.instanceId, connectInfo: got.connectInfo };
      last = got.reason;
      retryMs = got.retryAfterMs;
      refused = got.refused === true;
    } catch (e) {
      last = (e as Error).message;
    }
    if (refused) throw new Error(`runner "${r.runnerName}": acquiring an instance: ${last}`);
    await sleep(
      Math.min(Math.max(retryMs, minRetry), maxRetry, Math.max(0, deadline - Date.now())),
      r.signal,
    );
  }
}

/**
 * Gives worker `workerId`'s slot back: released false when the autoscaler did not hold it (already
 * released, or restarted), with a reason when it refused (another worker holds the key).
 */
export function releaseInstance(
  bus: Bus,
  groupKey: string,
  workerId: string,
  key: string,
): Promise<{ released: boolean; reason?: string }> {
  return bus.request(autoscalerReleaseRpc(groupKey, workerId), { key }, { timeoutMs: 10_000 });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

function formatMs(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m0s`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
