// How the runner reads GitLab's answers to job PUT and trace PATCH. Pure: status code and
// headers in, decision out. The order of the checks is the contract (reference (a), (f) 3–6).
import type { HeaderSource } from "./retry.ts";

export type UpdateResult = "succeeded" | "accepted" | "trace_validation_failed" | "abort" | "failed";
export type PatchResult = "succeeded" | "range_mismatch" | "not_found" | "abort" | "failed";

/** Longest trace update interval honoured from the server (GitLab Runner: 15 min). */
export const MAX_UPDATE_INTERVAL_S = 15 * 60;

/**
 * `X-GitLab-Trace-Update-Interval`: positive whole seconds, capped at 15 min. Zero, negative,
 * empty or non-numeric values are ignored (undefined: keep the current interval).
 */
export function parseUpdateInterval(value: string | null | undefined): number | undefined {
  const v = value?.trim();
  if (!v || !/^\+?\d+$/.test(v)) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) return undefined;
  return Math.min(n, MAX_UPDATE_INTERVAL_S);
}

function jobStatus(headers: HeaderSource): string {
  return (headers.get("Job-Status") ?? "").trim().toLowerCase();
}

/** Job-Status canceled/failed: the job is over at GitLab, whatever the status code says. */
export function isAbortedJobStatus(headers: HeaderSource): boolean {
  const s = jobStatus(headers);
  return s === "canceled" || s === "failed";
}

/** Job-Status canceling: graceful cancel requested (not an error). */
export function isCancelRequested(headers: HeaderSource): boolean {
  return jobStatus(headers) === "canceling";
}

/** Decision for `PUT jobs/:id`, in GitLab Runner's order. */
export function decideUpdateResult(status: number, headers: HeaderSource): UpdateResult {
  if (isAbortedJobStatus(headers) || status === 403) return "abort";
  if (status === 200) return "succeeded";
  if (status === 202) return "accepted";
  if (status === 412) return "trace_validation_failed";
  if (status === 404) return "abort";
  // 400, 409, 5xx…: retried by the final-update loop.
  return "failed";
}

/** Decision for `PATCH jobs/:id/trace`, in GitLab Runner's order. */
export function decidePatchResult(status: number, headers: HeaderSource): PatchResult {
  if (isAbortedJobStatus(headers) || status === 403) return "abort";
  if (status === 202) return "succeeded";
  if (status === 404) return "not_found";
  if (status === 416) return "range_mismatch";
  return "failed";
}

/**
 * The trace size GitLab holds, from a 416's `Range: 0-<n>`: the number after the dash, not
 * n+1. Anything unparsable means "resend from 0", as GitLab Runner does.
 */
export function rangeEndOffset(range: string | null | undefined): number {
  const parts = (range ?? "").trim().split("-");
  if (parts.length !== 2) return 0;
  const n = Number(parts[1]);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/** `Content-Range` of a trace patch: `<start>-<end inclusive>`, no `bytes` unit. */
export function formatContentRange(start: number, length: number): string {
  if (length <= 0)
    throw new RangeError(`trace patch at offset ${start} is empty: empty patches are never sent`);
  return `${start}-${start + length - 1}`;
}
