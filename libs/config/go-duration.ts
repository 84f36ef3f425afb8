// Go's time.ParseDuration, because GitLab Runner reads every duration in config.toml with it
// (`unhealthy_interval`, `idle_time`, `connector_config.timeout`, …). Writing "1h30min" (as one
// page of GitLab's own docs suggests) is an error in Go too: "min" is not a unit.

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

const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n, // U+00B5 micro sign
  μs: 1_000n, // U+03BC Greek small letter mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const INT64_LIMIT = 1n << 63n;

/**
 * Go's time.ParseDuration, step for step in whole nanoseconds (int64 overflow included: Go
 * refuses one nanosecond past 2^63-1, so must we). Throws GoDurationError with the reason.
 */
export function parseGoDurationNs(input: string): bigint {
  let rest = input;
  let negative = false;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    negative = rest[0] === "-";
    rest = rest.slice(1);
  }
  // Go accepts a bare "0" (with optional sign) and nothing else without a unit.
  if (rest === "0") return 0n;
  if (rest === "") throw new GoDurationError(input, "it is empty");
  const overflow = () => new GoDurationError(input, "it overflows Go's 292-year limit");

  let total = 0n;
  while (rest !== "") {
    const number = /^(\d*)(?:\.(\d*))?/.exec(rest);
    const whole = number?.[1] ?? "";
    const fraction = number?.[2];
    if (!number || (whole === "" && (fraction === undefined || fraction === ""))) {
      throw new GoDurationError(input, `expected a number at ${JSON.stringify(rest)}`);
    }
    rest = rest.slice(number[0].length);
    const unit = /^[^\d.]+/.exec(rest)?.[0];
    if (!unit) throw new GoDurationError(input, `missing unit after ${JSON.stringify(number[0])}`);
    const factor = UNIT_NS[unit];
    if (factor === undefined) throw new GoDurationError(input, `unknown unit ${JSON.stringify(unit)}`);
    rest = rest.slice(unit.length);
    let v = BigInt(whole || "0");
    if (v > INT64_LIMIT / factor) throw overflow();
    v *= factor;
    // leadingFraction: digits past int64 precision are consumed but no longer counted.
    let f = 0n;
    let scale = 1;
    let overflowed = false;
    for (const digit of fraction ?? "") {
      if (overflowed) continue;
      if (f > (INT64_LIMIT - 1n) / 10n) {
        overflowed = true;
        continue;
      }
      const next = f * 10n + BigInt(digit);
      if (next > INT64_LIMIT) {
        overflowed = true;
        continue;
      }
      f = next;
      scale *= 10;
    }
    // As Go: float64 for the fraction, nanosecond-accurate up to hours.
    if (f > 0n) v += BigInt(Math.trunc(Number(f) * (Number(factor) / scale)));
    if (v > INT64_LIMIT) throw overflow();
    total += v;
    if (total > INT64_LIMIT) throw overflow();
  }
  if (negative) return -total;
  if (total > INT64_LIMIT - 1n) throw overflow();
  return total;
}

/**
 * Parses a Go duration ("1h30m", "-1.5s", "300ms", "0") into milliseconds (fractional for
 * sub-millisecond values). Throws GoDurationError with the reason otherwise.
 */
export function parseGoDuration(input: string): number {
  return Number(parseGoDurationNs(input)) / 1e6;
}

/** Formats milliseconds the way Go's Duration.String() does ("1h30m0s", "1.5s", "0s"). */
export function formatGoDuration(ms: number): string {
  // Go durations are whole nanoseconds; round once here, then format exactly in integers.
  return formatGoDurationNs(BigInt(Math.round(ms * 1e6)));
}

const NS_PER_SECOND = 1_000_000_000n;

/**
 * Go's time.Duration.String() over an int64 nanosecond count (time/time.go format): under a
 * second a single unit (ns, µs, ms) with its fraction; otherwise h, m and s, with the seconds'
 * fraction to nanosecond precision and trailing zeros dropped ("8m0.000000001s").
 */
export function formatGoDurationNs(ns: bigint): string {
  if (ns === 0n) return "0s";
  const sign = ns < 0n ? "-" : "";
  const u = ns < 0n ? -ns : ns;
  if (u < NS_PER_SECOND) {
    if (u < 1_000n) return `${sign}${u}ns`;
    if (u < 1_000_000n) return `${sign}${fraction(u, 3)}µs`;
    return `${sign}${fraction(u, 6)}ms`;
  }
  const seconds = u / NS_PER_SECOND;
  const s = `${fraction(u, 9)}s`.replace(/^\d+/, String(seconds % 60n));
  const minutes = seconds / 60n;
  if (minutes === 0n) return `${sign}${s}`;
  const hours = minutes / 60n;
  if (hours === 0n) return `${sign}${minutes}m${s}`;
  return `${sign}${hours}h${minutes % 60n}m${s}`;
}

/** v / 10**digits in decimal, trailing zeros of the fraction (and a bare point) dropped. */
function fraction(v: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const frac = (v % scale).toString().padStart(digits, "0").replace(/0+$/, "");
  return frac === "" ? String(v / scale) : `${v / scale}.${frac}`;
}
