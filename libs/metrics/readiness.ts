// `/readyz`: each tier in the process says whether it can do its work now (poller: bus connected
// and runner entries to poll; scheduler: active on a connected bus; worker: connected and its
// heartbeats going out). Ready only when every tier is. `/healthz` says only "the process is alive".
// Pure: the probes are read at request time.

export interface TierReadiness {
  tier: string;
  ready: boolean;
  /** What is missing, for the operator (shown when not ready). */
  why?: string;
}

export function readinessReport(tiers: readonly TierReadiness[]): { status: 200 | 503; body: string } {
  if (tiers.length === 0) return { status: 503, body: "not ready: no tier started yet\n" };
  const ready = tiers.every((t) => t.ready);
  const lines = tiers.map((t) => `${t.tier}: ${t.ready ? "ready" : `not ready: ${t.why ?? "unknown"}`}`);
  return { status: ready ? 200 : 503, body: `${ready ? "ready" : "not ready"}\n${lines.join("\n")}\n` };
}
