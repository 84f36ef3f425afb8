// GitLab Runner's log level names (logrus: `log_level` in config.toml, `--log-level`) mapped to
// pino's, in one place for start-up and reload. logrus parses names case-insensitively and takes
// `warn` and `warning` alike; pino has no `panic`, and logrus' panic is the level above fatal,
// so it keeps only fatal lines (pino's highest).
import type { LevelWithSilent } from "pino";

const LEVELS: Readonly<Record<string, LevelWithSilent>> = {
  panic: "fatal",
  fatal: "fatal",
  error: "error",
  warning: "warn",
  warn: "warn",
  info: "info",
  debug: "debug",
  trace: "trace",
  // Not GitLab Runner's: pino's "log nothing", for tests and embedding.
  silent: "silent",
};

/** The GitLab Runner level names `pinoLevel` accepts. */
export const LOG_LEVEL_NAMES: readonly string[] = Object.keys(LEVELS);

/** `where` names the setting for the error (`log_level`, `--log-level`, `RUNMESH_LOG_LEVEL`). */
export function pinoLevel(name: string, where = "log_level"): LevelWithSilent {
  const level = LEVELS[name.trim().toLowerCase()];
  if (!level)
    throw new Error(`${where}: expected one of ${LOG_LEVEL_NAMES.join(", ")}, got ${JSON.stringify(name)}`);
  return level;
}
