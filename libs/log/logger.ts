// Structured logs (pino, one JSON event per line) with secrets removed by the logger itself:
// every value registered in `secrets` (secret-registry.ts) is replaced in the serialised line,
// whatever field or message it hides in, so a careless `log.info({ job })` cannot leak a token.
import pino, { type Logger } from "pino";
import { pinoLevel } from "./log-level.ts";
import { secrets } from "./secret-registry.ts";

export type { Logger } from "pino";

export { type SecretHold, SecretRegistry, secrets } from "./secret-registry.ts";

export interface LoggerOptions {
  service: string;
  /** A GitLab Runner level name (`warning`, `panic`, …) or pino's; see `pinoLevel`. */
  level?: string;
  /** "json" (default) or "text" (GitLab Runner's log_format values; "runner" is treated as text). */
  format?: string;
  /** Where lines go; defaults to stderr so stdout stays free for command output. */
  destination?: { write(line: string): unknown };
}

export function createLogger(opts: LoggerOptions): Logger {
  const out = opts.destination ?? process.stderr;
  const text = opts.format === "text" || opts.format === "runner";
  const stream = {
    write(line: string) {
      const clean = secrets.redact(line);
      out.write(text ? toText(clean) : clean);
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

function toText(jsonLine: string): string {
  try {
    const { time, level, msg, service, ...rest } = JSON.parse(jsonLine) as Record<string, unknown>;
    const fields = Object.entries(rest)
      .filter(([k]) => k !== "pid" && k !== "hostname")
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(" ");
    return `${time} ${String(level).toUpperCase().padEnd(5)} ${service}: ${msg ?? ""}${fields ? ` ${fields}` : ""}\n`;
  } catch {
    return jsonLine;
  }
}
