// Every GitLab Runner (logrus) level name works at start-up (createLogger) and on reload
// (`logger.level = pinoLevel(…)`, what `runmesh run` does on a config change), and keeps the
// lines logrus would keep at that level.
import { expect, test } from "bun:test";
import { LOG_LEVEL_NAMES, pinoLevel } from "./log-level.ts";
import { createLogger } from "./logger.ts";

/** name → the pino methods whose lines are kept (logrus: panic keeps only panic/fatal lines). */
const CASES: [string, string[]][] = [
  ["panic", ["fatal"]],
  ["fatal", ["fatal"]],
  ["error", ["fatal", "error"]],
  ["warning", ["fatal", "error", "warn"]],
  ["warn", ["fatal", "error", "warn"]],
  ["info", ["fatal", "error", "warn", "info"]],
  ["debug", ["fatal", "error", "warn", "info", "debug"]],
  ["trace", ["fatal", "error", "warn", "info", "debug", "trace"]],
  ["WARNING", ["fatal", "error", "warn"]],
];
const METHODS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;

function kept(set: (logger: ReturnType<typeof createLogger>) => void, level?: string): string[] {
  const lines: string[] = [];
  const logger = createLogger({ service: "t", level, destination: { write: (l: string) => lines.push(l) } });
  set(logger);
  for (const m of METHODS) logger[m](m);
  return lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
}

test("the table covers every level GitLab Runner accepts", () => {
  expect(new Set(CASES.map(([n]) => n.toLowerCase()))).toEqual(
    new Set(LOG_LEVEL_NAMES.filter((n) => n !== "silent")),
  );
});

test.each(CASES)("log_level %p at start-up keeps %p", (name, want) => {
  expect(kept(() => {}, name)).toEqual(want);
});

test.each(CASES)("log_level %p on reload keeps %p", (name, want) => {
  expect(
    kept((logger) => {
      logger.level = pinoLevel(name);
    }, "info"),
  ).toEqual(want);
});

test("an unknown level names the setting and what it takes", () => {
  expect(() => pinoLevel("verbose")).toThrow(
    'log_level: expected one of panic, fatal, error, warning, warn, info, debug, trace, silent, got "verbose"',
  );
  expect(() => createLogger({ service: "t", level: "loud" })).toThrow("log level: expected one of");
});
