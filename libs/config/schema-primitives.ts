// Leaf schemas for config.toml values. Every message is the "expected …" phrase of a problem
// line; parse-config.ts adds the file, runner, key and the value found.
import { z } from "zod";
import { GO_DURATION_UNITS, GoDurationError, parseGoDuration } from "./go-duration.ts";

export const str = () => z.string({ error: "a string" });
export const bool = () => z.boolean({ error: "true or false" });
export const int = () => z.number({ error: "an integer" }).int({ error: "an integer" });
export const float = () => z.number({ error: "a number" });
export const strArray = () => z.array(str(), { error: "an array of strings" });
export const floatArray = () => z.array(float(), { error: "an array of numbers" });
export const strMap = () => z.record(z.string(), str(), { error: "a table of strings" });
/** Deep structures GitLab passes through untouched (plugin_config, affinity, …). */
export const anyTable = () => z.record(z.string(), z.unknown(), { error: "a table" });

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `one of ${values.map((v) => JSON.stringify(v)).join(", ")}` });

/** Go leaves an empty string where a key is absent; so do we. */
export const emptyToUndefined = (v: string | undefined) => (v === "" ? undefined : v);
export const optStr = () => str().transform(emptyToUndefined).optional();

/**
 * A Go time.Duration as GitLab Runner's TOML decoder takes it: a string ("1h30m") or an integer
 * counted in nanoseconds. The output is always the string form, so a parsed config parses again.
 */
export const goDuration = () =>
  z
    .union([z.string(), z.number().int(), z.bigint()], { error: `a Go duration like "1h30m"` })
    .transform((value, ctx) => {
      if (typeof value !== "string") return `${value}ns`;
      try {
        parseGoDuration(value);
      } catch (error) {
        const reason = error instanceof GoDurationError ? error.reason : String(error);
        ctx.addIssue({
          code: "custom",
          message: `a Go duration like "1h30m" (units: ${GO_DURATION_UNITS})`,
          params: { detail: reason },
        });
        return z.NEVER;
      }
      return value;
    });

/** Milliseconds of a duration string already checked by goDuration(). */
export const durationMs = (value: string): number =>
  value.endsWith("ns") && /^-?\d+ns$/.test(value) ? Number(value.slice(0, -2)) / 1e6 : parseGoDuration(value);

// docker/go-units RAMInBytes, which GitLab Runner uses for memory, memory_swap, … (a failed
// parse there is fatal at job time, so we fail at load time instead).
const SIZE = /^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/;
export const dockerSize = () =>
  z
    .string({ error: `a size like "512m"` })
    .refine((v) => v === "" || SIZE.test(v), { error: `a size like "512m"` });

// DockerConfig.GetNanoCPUs parses cpus with big.Rat: "2", "1.5" or "3/2".
const RATIONAL = /^(\d+(\.\d*)?|\.\d+|\d+\/\d+)$/;
export const dockerCpus = () =>
  z
    .string({ error: `a number of CPUs like "1.5"` })
    .refine((v) => v === "" || RATIONAL.test(v), { error: `a number of CPUs like "1.5"` });

export const PULL_POLICIES = ["always", "never", "if-not-present"] as const;
/** pull_policy takes one policy or a list (GitLab's StringOrArray); the output is always a list. */
export const pullPolicyList = () =>
  z
    .union([oneOf(PULL_POLICIES), z.array(oneOf(PULL_POLICIES))], {
      error: `"always", "never", "if-not-present" or a list of them`,
    })
    .transform((v) => (Array.isArray(v) ? v : [v]));

/**
 * A TOML datetime (smol-toml gives a TomlDate, which is a Date) or an RFC 3339 string.
 * Go's zero time (0001-01-01T00:00:00Z), which GitLab Runner writes for "never", becomes undefined.
 */
export const GO_ZERO_TIME = new Date("0001-01-01T00:00:00Z").getTime();
export const tomlDateTime = () =>
  z
    .union([z.date(), z.string()], { error: "a date-time like 2024-05-01T12:00:00Z" })
    .transform((value, ctx) => {
      const date = typeof value === "string" ? new Date(value) : value;
      if (Number.isNaN(date.getTime())) {
        ctx.addIssue({ code: "custom", message: "a date-time like 2024-05-01T12:00:00Z" });
        return z.NEVER;
      }
      // Go writes its zero time for "never"; anything at or before it carries no expiry.
      if (date.getTime() <= GO_ZERO_TIME) return undefined;
      return new Date(date.getTime());
    })
    .optional();
