// Go's time.ParseDuration, because GitLab Runner reads every duration in config.toml with it
// (`unhealthy_interval`, `idle_time`, `connector_config.timeout`, …). Writing "1h30min" (as one
// page of GitLab's own docs suggests) is an error in Go too: "min" is not a unit.

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // U+00B5 micro sign
  μs: 1e-3, // U+03BC Greek small letter mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

export const GO_DURATION_UNITS = "ns, us, ms, s, m, h";

/** A duration string that Go's time.ParseDuration would reject. */
export class GoDurationError extends Error {
  constructor(
    readonly input: string,
    readonly reason: string,
  ) {
    super(
      `invalid Go duration ${JSON.stringify(input)}: ${reason} (write it like "1h30m", "90s" or "250ms"; units: ${GO_DURATION_UNITS})`,
    );
    this.name = "GoDurationError";
  }
}

/**
 * Parses a Go duration ("1h30m", "-1.5s", "300ms", "0") into milliseconds (fractional for
 * sub-millisecond values). Throws GoDurationError with the reason otherwise.
 */
export function parseGoDuration(input: string): number {
  let rest = input;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    if (rest[0] === "-") sign = -1;
    rest = rest.slice(1);
  }
  // Go accepts a bare "0" (with optional sign) and nothing else without a unit.
  if (rest === "0") return 0;
  if (rest === "") throw new GoDurationError(input, "it is empty");

  let total = 0;
  while (rest !== "") {
    const number = /^(\d*)(?:\.(\d*))?/.exec(rest);
    const whole = number?.[1] ?? "";
    const fraction = number?.[2];
    if (!number || (whole === "" && (fraction === undefined || fraction === ""))) {
      throw new GoDurationError(input, `expected a number at ${JSON.stringify(rest)}`);
    }
    rest = rest.slice(number[0].length);
    const unit = /^[^\d.]+/.exec(rest)?.[0];
    if (!unit) {
      throw new GoDurationError(input, `missing unit after ${JSON.stringify(number[0])}`);
    }
    const factor = UNIT_MS[unit];
    if (factor === undefined) throw new GoDurationError(input, `unknown unit ${JSON.stringify(unit)}`);
    rest = rest.slice(unit.length);
    total += Number(`${whole || "0"}.${fraction || "0"}`) * factor;
  }
  // Go stores durations as int64 nanoseconds: about 292 years.
  if (total > 9_223_372_036_854.775) throw new GoDurationError(input, "it overflows Go's 292-year limit");
  return sign * total;
}

/** Formats milliseconds the way Go's Duration.String() does ("1h30m0s", "1.5s", "0s"). */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return "0s";
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(ms);
  if (rest < 1) {
    const ns = Math.round(rest * 1e6);
    return ns < 1000 ? `${sign}${ns}ns` : `${sign}${trimZeros(ns / 1000)}µs`;
  }
  if (rest < 1000) return `${sign}${trimZeros(rest)}ms`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = trimZeros(rest / 1000);
  if (h > 0) return `${sign}${h}h${m}m${s}s`;
  if (m > 0) return `${sign}${m}m${s}s`;
  return `${sign}${s}s`;
}

function trimZeros(n: number): string {
  return String(Number(n.toFixed(9)));
}
