// GitLab's Gitlab::Ci::Runner::Backoff: the X-GitLab-Trace-Update-Interval sent with a PUT 202
// ("trace not persisted yet"), growing with the time since the pending state was first recorded:
// 0–3 s → 1, 4–7 s → 2, 8–15 s → 4 … capped at 64 s.
export function traceAcceptBackoffSeconds(pendingForSeconds: number): number {
  if (pendingForSeconds <= 1) return 1;
  const slot = Math.max(0, Math.floor(Math.log2(pendingForSeconds)) - 1);
  return 2 ** Math.min(slot, 6);
}
