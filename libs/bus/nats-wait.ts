// Start-up order does not matter (issue 13): a tier started before nats-server (compose, systemd,
// a host reboot) waits for it and retries with a log line per attempt instead of exiting, as
// GitLab Runner keeps retrying an unreachable GitLab. Only "not there yet" is retried (refused,
// reset, a name compose's DNS does not know yet, a timeout); a wrong password or a TLS failure is
// a mistake to report at once. Once connected, nats.js reconnects on its own (nats-bus.ts).

/** Pause before attempt `attempt + 1`: 1 s, 2 s, 4 s, then every 5 s. */
export function retryDelayMs(attempt: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attempt - 1), 5000);
}

const RETRYABLE: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  ENOTFOUND: "name not resolved",
  EAI_AGAIN: "name not resolved yet",
};

/** Why a connect failed, when it is worth waiting for (else undefined: report it and exit). */
export function waitReason(err: unknown): string | undefined {
  for (
    let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    depth++
  ) {
    if (typeof e.code === "string" && RETRYABLE[e.code]) return RETRYABLE[e.code];
    if (typeof e.message === "string") {
      if (/connection refused/i.test(e.message)) return "connection refused";
      if (/\btimeout\b|timed out/i.test(e.message)) return "connection timed out";
      const code = /\b(E[A-Z_]+)\b/.exec(e.message)?.[1];
      if (code && RETRYABLE[code]) return RETRYABLE[code];
    }
    e = e.cause as typeof e;
  }
  return undefined;
}

export interface WaitForNatsOptions {
  /** What the log lines name: the configured URL(s). */
  url: string;
  logger: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** Injected in tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** Calls `connect` until it succeeds or fails for a reason not worth waiting for. */
export async function connectWhenReachable<T>(connect: () => Promise<T>, o: WaitForNatsOptions): Promise<T> {
  const sleep = o.sleep ?? ((ms: number) => Bun.sleep(ms));
  for (let attempt = 1; ; attempt++) {
    try {
      const connected = await connect();
      if (attempt > 1) o.logger.info({ nats: o.url, attempts: attempt }, `NATS at ${o.url} is reachable`);
      return connected;
    } catch (err) {
      const reason = waitReason(err);
      if (!reason) throw err;
      const delay = retryDelayMs(attempt);
      o.logger.warn(
        { nats: o.url, attempt },
        `waiting for NATS at ${o.url}: ${reason}; retrying in ${delay / 1000}s`,
      );
      await sleep(delay);
    }
  }
}
