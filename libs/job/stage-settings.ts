// Job-variable settings the stage machine reads before it starts, parsed once with GitLab
// Runner's defaults, ranges and warning texts (common/build_settings.go, build.go
// getStageTimeoutContexts and attemptExecuteStage). Pure.
import { formatGoDuration, parseGoDuration } from "../config/go-duration.ts";

export const ATTEMPT_VARIABLES = [
  "GET_SOURCES_ATTEMPTS",
  "ARTIFACT_DOWNLOAD_ATTEMPTS",
  "RESTORE_CACHE_ATTEMPTS",
  "EXECUTOR_JOB_SECTION_ATTEMPTS",
] as const;
export type AttemptVariable = (typeof ATTEMPT_VARIABLES)[number];

const DEFAULT_ATTEMPTS = 1;
const MIN_ATTEMPTS = 1;
const MAX_ATTEMPTS = 10;

export interface Parsed<T> {
  value: T;
  warning?: string;
}

/**
 * A stage-attempts variable: default 1; a non-integer falls back to the default and a value
 * outside [1, 10] is clamped, each with a warning for the job log (runner-api.md (c)).
 */
export function parseAttempts(name: string, raw: string): Parsed<number> {
  if (raw.trim() === "") return { value: DEFAULT_ATTEMPTS };
  if (!/^[+-]?\d+$/.test(raw.trim())) {
    return {
      value: DEFAULT_ATTEMPTS,
      warning: `${name}: expected int got ${JSON.stringify(raw)}, using default value: ${DEFAULT_ATTEMPTS}`,
    };
  }
  const n = Number(raw.trim());
  if (n < MIN_ATTEMPTS || n > MAX_ATTEMPTS) {
    const value = n < MIN_ATTEMPTS ? MIN_ATTEMPTS : MAX_ATTEMPTS;
    return {
      value,
      warning: `${name}: number of attempts out of the range [${MIN_ATTEMPTS}, ${MAX_ATTEMPTS}], clamping to: ${value}`,
    };
  }
  return { value: n };
}

const BACKOFF_MIN_MS = 5_000;
const BACKOFF_MAX_MS = 5 * 60_000;
const BACKOFF_FACTOR = 1.5;

/**
 * Pause before retry number `retry` (0 = before the 2nd attempt). With
 * FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY: jpillora/backoff with min 5 s, max 5 min, factor 1.5
 * and jitter, as GitLab Runner configures it; otherwise a random 1–5 s.
 */
export function stageRetryDelayMs(
  retry: number,
  exponential: boolean,
  random: () => number = Math.random,
): number {
  if (!exponential) return Math.round(1000 + random() * 4000);
  const grown = BACKOFF_MIN_MS * BACKOFF_FACTOR ** retry;
  if (!Number.isFinite(grown) || grown >= BACKOFF_MAX_MS) return BACKOFF_MAX_MS;
  return Math.round(BACKOFF_MIN_MS + random() * (grown - BACKOFF_MIN_MS));
}

/**
 * RUNNER_SCRIPT_TIMEOUT / RUNNER_AFTER_SCRIPT_TIMEOUT as GitLab's getStageTimeoutContexts reads
 * them: empty ⇒ the default; malformed or negative ⇒ the default with a warning; longer than
 * the job's remaining time ⇒ the default stays and a warning says the job timeout applies (the
 * deadline is always capped by the job's own); 0 ⇒ the default. `undefined` = no own deadline.
 */
export function parseStageTimeout(
  name: string,
  raw: string,
  defaultMs: number | undefined,
  jobRemainingMs: number,
): Parsed<number | undefined> {
  if (raw.trim() === "") return { value: defaultMs };
  let ms: number;
  try {
    ms = parseGoDuration(raw.trim());
  } catch {
    return { value: defaultMs, warning: `Ignoring malformed ${name} timeout: ${raw}` };
  }
  if (ms < 0) return { value: defaultMs, warning: `Ignoring relative ${name} timeout: ${raw}` };
  if (ms > jobRemainingMs) {
    return {
      value: defaultMs,
      warning: `${name} timeout: ${raw} is longer than job timeout. Setting to job timeout`,
    };
  }
  if (ms === 0) return { value: defaultMs };
  return { value: ms };
}

/** "execution took longer than 1h0m0s seconds": GitLab's words, its Go duration included. */
export function executionTimeoutMessage(jobTimeoutSeconds: number): string {
  return `execution took longer than ${formatGoDuration(jobTimeoutSeconds * 1000)} seconds`;
}
