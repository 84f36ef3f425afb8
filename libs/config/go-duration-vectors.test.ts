// Go's own time.ParseDuration table tests (time/time_test.go: parseDurationTests,
// parseDurationErrorTests, current Go), run against parseGoDuration: GitLab Runner reads every
// duration in config.toml with time.ParseDuration. runmesh returns float milliseconds, so a
// value is compared to Go's int64 nanoseconds within float64 precision (relative 1e-12).
// Added by the trace-vectors helper; go-duration.ts itself belongs to the config code.
import { describe, expect, test } from "bun:test";
import { GoDurationError, parseGoDuration, parseGoDurationNs } from "./go-duration.ts";

const NS = 1n;
const US = 1000n * NS;
const MS = 1000n * US;
const S = 1000n * MS;
const M = 60n * S;
const H = 60n * M;
const MAX = (1n << 63n) - 1n;
const MIN = -(1n << 63n);

const PARSE_DURATION_TESTS: [string, bigint][] = [
  // simple
  ["0", 0n],
  ["5s", 5n * S],
  ["30s", 30n * S],
  ["1478s", 1478n * S],
  // sign
  ["-5s", -5n * S],
  ["+5s", 5n * S],
  ["-0", 0n],
  ["+0", 0n],
  // decimal
  ["5.0s", 5n * S],
  ["5.6s", 5n * S + 600n * MS],
  ["5.s", 5n * S],
  [".5s", 500n * MS],
  ["1.0s", 1n * S],
  ["1.00s", 1n * S],
  ["1.004s", 1n * S + 4n * MS],
  ["1.0040s", 1n * S + 4n * MS],
  ["100.00100s", 100n * S + 1n * MS],
  // different units
  ["10ns", 10n * NS],
  ["11us", 11n * US],
  ["12µs", 12n * US], // U+00B5
  ["12μs", 12n * US], // U+03BC
  ["13ms", 13n * MS],
  ["14s", 14n * S],
  ["15m", 15n * M],
  ["16h", 16n * H],
  // composite durations
  ["3h30m", 3n * H + 30n * M],
  ["10.5s4m", 4n * M + 10n * S + 500n * MS],
  ["-2m3.4s", -(2n * M + 3n * S + 400n * MS)],
  ["1h2m3s4ms5us6ns", 1n * H + 2n * M + 3n * S + 4n * MS + 5n * US + 6n * NS],
  ["39h9m14.425s", 39n * H + 9n * M + 14n * S + 425n * MS],
  // large value
  ["52763797000ns", 52763797000n * NS],
  // more than 9 digits after decimal point, see https://golang.org/issue/6617
  ["0.3333333333333333333h", 20n * M],
  // 9007199254740993 = 1<<53+1 cannot be stored precisely in a float64
  ["9007199254740993ns", ((1n << 53n) + 1n) * NS],
  // largest duration that can be represented by int64 in nanoseconds
  ["9223372036854775807ns", MAX],
  ["9223372036854775.807us", MAX],
  ["9223372036s854ms775us807ns", MAX],
  ["-9223372036854775808ns", MIN],
  ["-9223372036854775.808us", MIN],
  ["-9223372036s854ms775us808ns", MIN],
  // largest negative value
  ["-9223372036854775808ns", MIN],
  // largest negative round trip value, see https://golang.org/issue/48629
  ["-2562047h47m16.854775808s", MIN],
  // huge string; issue 15011.
  ["0.100000000000000000000h", 6n * M],
  // This value tests the first overflow check in leadingFraction.
  ["0.830103483285477580700h", 49n * M + 48n * S + 372539827n * NS],
];

const PARSE_DURATION_ERROR_TESTS: string[] = [
  // invalid
  "",
  "3",
  "-",
  "s",
  ".",
  "-.",
  ".s",
  "+.s",
  "1d",
  // Go's "\x85\x85", "\xffff" are raw bytes; a JS string holds them as U+0085, U+00FF.
  "\x85\x85",
  "\xffff",
  "hello \xffff world",
  "\uFFFD",
  "\uFFFD hello \uFFFD world",
  // overflow
  "9223372036854775810ns",
  "9223372036854775808ns",
  "-9223372036854775809ns",
  "9223372036854776us",
  "3000000h",
  "9223372036854775.808us",
  "9223372036854ms775us808ns",
];

function parsesTo(input: string, ns: bigint): boolean {
  try {
    return parseGoDurationNs(input) === ns;
  } catch {
    return false;
  }
}

function rejected(input: string): boolean {
  try {
    parseGoDuration(input);
    return false;
  } catch (e) {
    return e instanceof GoDurationError;
  }
}

describe("Go's TestParseDuration", () => {
  for (const [input, ns] of PARSE_DURATION_TESTS) {
    test(`${JSON.stringify(input)} is ${ns} ns`, () => {
      expect(parsesTo(input, ns)).toBe(true);
    });
  }
});

describe("Go's TestParseDurationErrors", () => {
  for (const input of PARSE_DURATION_ERROR_TESTS) {
    test(`${JSON.stringify(input)} is refused`, () => {
      expect(rejected(input)).toBe(true);
    });
  }
});
