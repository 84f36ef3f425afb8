// Structured logs (pino, one JSON event per line) with secrets removed by the logger itself:
// every value registered in `secrets` (secret-registry.ts) is replaced in the serialised line,
// whatever field or message it hides in, so a careless `log.info({ job })` cannot leak a token.
import pino, { type Logger } from "pino";
import { formatLine, parseLogFormat } from "./log-format.ts";
import { pinoLevel } from "./log-level.ts";
import { secrets } from "./secret-registry.ts";

export type { Logger } from "pino";

export { type SecretHold, SecretRegistry, secrets } from "./secret-registry.ts";

export interface LoggerOptions {
  service: string;
  /** A GitLab Runner level name (`warning`, `panic`, …) or pino's; see `pinoLevel`. */
  level?: string;
  /** GitLab Runner's `log_format`: "runner", "text" or "json" (default "json"); see log-format.ts. */
  format?: string;
  /** Colours in the runner format; default: when the destination is a terminal. */
  colours?: boolean;
  /** Where lines go; defaults to stderr so stdout stays free for command output. */
  destination?: { write(line: string): unknown; isTTY?: boolean };
}

export function createLogger(opts: LoggerOptions): Logger {
  const out = opts.destination ?? process.stderr;
  const format = parseLogFormat(opts.format ?? "json", "log format");
  const colours = opts.colours ?? out.isTTY === true;
  const stream = {
    write(line: string) {
      const clean = secrets.redact(line);
      out.write(formatLine(clean, format, colours));
    },
  };
  return pino(
    {
      level: pinoLevel(opts.level ?? process.env.RUNMESH_LOG_LEVEL ?? "info", "log level"),
      base: { service: opts.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}
