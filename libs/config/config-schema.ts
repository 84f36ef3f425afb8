// The global section of config.toml, [session_server], the [[runners]] list and [mesh].
import { z } from "zod";
import { meshSchema } from "./mesh-schema.ts";
import { runnerFileEntrySchema } from "./runner-schema.ts";
import { durationMs, goDuration, int, oneOf, optStr } from "./schema-primitives.ts";

export const GLOBAL_DEFAULTS = {
  concurrent: 1,
  check_interval: 3,
  shutdown_timeout: 30,
  connection_max_age: "15m",
  session_timeout: 1800,
} as const;

const positiveOr = (fallback: number) =>
  int()
    .optional()
    .transform((v) => (v === undefined || v <= 0 ? fallback : v));

export const sessionServerSchema = z.object(
  {
    listen_address: optStr(),
    // GitLab uses listen_address when advertise_address is empty.
    advertise_address: optStr(),
    session_timeout: positiveOr(GLOBAL_DEFAULTS.session_timeout),
  },
  { error: "a table" },
);

export const configSchema = z.object(
  {
    concurrent: int()
      .refine((v) => v !== 0, {
        error:
          "an integer ≥ 1 (0 is forbidden: GitLab Runner stops with a critical error, since no job could ever run; the default is 1)",
      })
      .refine((v) => v >= 0, { error: "an integer ≥ 1 (the number of jobs that may run at once)" })
      .default(GLOBAL_DEFAULTS.concurrent),
    // Lower priority than --log-level / --log-format; absent means "not set in the file".
    // logrus.ParseLevel lower-cases the name: "WARNING" is as good as "warning".
    log_level: z
      .string({ error: "a string" })
      .transform((v) => v.trim().toLowerCase())
      .pipe(oneOf(["debug", "info", "warn", "warning", "error", "fatal", "panic", "trace"]))
      .optional(),
    log_format: oneOf(["runner", "text", "json"]).optional(),
    // Seconds; 0 or less means GitLab's default of 3.
    check_interval: positiveOr(GLOBAL_DEFAULTS.check_interval),
    sentry_dsn: optStr(),
    // 0 or less: keep connections as long as possible.
    connection_max_age: goDuration().default(GLOBAL_DEFAULTS.connection_max_age),
    listen_address: optStr(),
    // Seconds; 0 or less means GitLab's default of 30.
    shutdown_timeout: positiveOr(GLOBAL_DEFAULTS.shutdown_timeout),
    user: optStr(),
    session_server: sessionServerSchema.optional(),
    runners: z.array(runnerFileEntrySchema, { error: "a list of [[runners]] tables" }).default([]),
    mesh: meshSchema.default(meshSchema.parse({})),
  },
  { error: "a table" },
);

export function resolveGlobals(c: z.output<typeof configSchema>) {
  return {
    ...c,
    check_interval_ms: c.check_interval * 1000,
    shutdown_timeout_ms: c.shutdown_timeout * 1000,
    connection_max_age_ms: durationMs(c.connection_max_age),
  };
}
