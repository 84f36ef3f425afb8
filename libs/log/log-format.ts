// GitLab Runner's three log formats (`log_format` / `--log-format`), as logrus writes them:
//   runner: helpers/log/runner_formatter.go: "WARNING: " / "ERROR: " / "FATAL: " / "PANIC: " before
//           the message, the message padded to 50 characters less that prefix, then ` key=value`
//           sorted by key; colours only on a terminal.
//   text:   logrus' TextFormatter without a terminal: `time="…" level=warning msg="…" key=value`,
//           keys after msg sorted, values quoted when they hold anything but [A-Za-z0-9-._/@^+].
//   json:   one object per line as pino writes it (`level`, `time`, `service`, `msg`, fields). Its
//           level names are pino's (`warn`, not logrus' `warning`): runmesh's own log shape, kept.
// Pure: a parsed pino line in, a formatted line out.

export type LogFormat = "runner" | "text" | "json";

export const LOG_FORMATS: readonly LogFormat[] = ["runner", "text", "json"];

/** What every format prints: pino's level label, ISO time, message and the other fields. */
export interface LogEntry {
  time: string;
  /** pino's label: trace, debug, info, warn, error, fatal. */
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

/** logrus' level names (Level.String()): pino's `warn` is logrus' `warning`. */
function logrusLevel(pinoLabel: string): string {
  return pinoLabel === "warn" ? "warning" : pinoLabel;
}

const PREFIX: Readonly<Record<string, string>> = {
  warn: "WARNING: ",
  error: "ERROR: ",
  fatal: "FATAL: ",
};

const COLOUR: Readonly<Record<string, string>> = {
  debug: "\x1b[37;1m",
  warn: "\x1b[0;33m",
  error: "\x1b[31;1m",
  fatal: "\x1b[31;1m",
};
const RESET = "\x1b[0;m";

/** Go's `%v` of a field value, near enough: strings bare, the rest as JSON. */
function plain(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function sortedFields(fields: Record<string, unknown>): [string, unknown][] {
  return Object.entries(fields).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export function formatRunner(entry: LogEntry, colours: boolean): string {
  const prefix = PREFIX[entry.level] ?? "";
  const colour = colours ? (COLOUR[entry.level] ?? "") : "";
  const reset = colours ? RESET : "";
  let line = `${colour}${prefix}${entry.msg.padEnd(50 - prefix.length)}${reset} `;
  for (const [k, v] of sortedFields(entry.fields)) line += ` ${colour}${k}${reset}=${plain(v)}`;
  return `${line}\n`;
}

/** logrus' needsQuoting: anything outside [A-Za-z0-9-._/@^+] (or an empty value) is quoted. */
function logfmtValue(value: unknown): string {
  const text = plain(value);
  return text !== "" && /^[A-Za-z0-9\-._/@^+]+$/.test(text) ? text : JSON.stringify(text);
}

export function formatText(entry: LogEntry): string {
  const parts = [
    `time=${logfmtValue(entry.time)}`,
    `level=${logrusLevel(entry.level)}`,
    `msg=${logfmtValue(entry.msg)}`,
  ];
  for (const [k, v] of sortedFields(entry.fields)) parts.push(`${k}=${logfmtValue(v)}`);
  return `${parts.join(" ")}\n`;
}

/** A pino JSON line as a LogEntry (pid and hostname dropped: logrus has neither). */
export function parsePinoLine(line: string): LogEntry | undefined {
  try {
    const {
      time,
      level,
      msg,
      pid: _pid,
      hostname: _host,
      ...fields
    } = JSON.parse(line) as Record<string, unknown>;
    return { time: String(time ?? ""), level: String(level ?? "info"), msg: String(msg ?? ""), fields };
  } catch {
    return undefined;
  }
}

export function formatLine(line: string, format: LogFormat, colours: boolean): string {
  if (format === "json") return line;
  const entry = parsePinoLine(line);
  if (!entry) return line;
  switch (format) {
    case "runner":
      return formatRunner(entry, colours);
    case "text":
      return formatText(entry);
  }
}

/** `where` names the setting (`log_format`, `--log-format`) in the error. */
export function parseLogFormat(name: string, where = "log_format"): LogFormat {
  const found = LOG_FORMATS.find((f) => f === name.trim().toLowerCase());
  if (!found)
    throw new Error(`${where}: expected one of ${LOG_FORMATS.join(", ")}, got ${JSON.stringify(name)}`);
  return found;
}
