// gitlab_runner_errors_total{level}: GitLab Runner counts every log entry at warning level and
// above through a logrus hook (helpers/prometheus/log_hook.go). Here the pino logger's stream is
// wrapped once per process: every line, of every child logger, passes through it.
import pino from "pino";
import type { Logger } from "../log/logger.ts";

export type CountedLevel = "panic" | "fatal" | "error" | "warning";

/** pino's level label (or number) in a serialised line → GitLab Runner's (logrus) level name. */
export function countedLevel(line: string): CountedLevel | undefined {
  const m = /"level":(?:"(\w+)"|(\d+))/.exec(line);
  if (!m) return undefined;
  const label = m[1] ?? pino.levels.labels[Number(m[2])];
  switch (label) {
    case "warn":
      return "warning";
    case "error":
      return "error";
    case "fatal":
      return "fatal";
    default:
      return undefined;
  }
}

const counted = new WeakSet<object>();

/** Calls `count` for each warn/error/fatal line the logger (or a child of it) writes. */
export function countLogErrors(logger: Logger, count: (level: CountedLevel) => void): void {
  const stream = (logger as unknown as Record<symbol, { write(line: string): unknown } | undefined>)[
    pino.symbols.streamSym
  ];
  if (!stream || counted.has(stream)) return;
  counted.add(stream);
  const write = stream.write.bind(stream);
  stream.write = (line: string) => {
    const level = countedLevel(line);
    if (level) count(level);
    return write(line);
  };
}
