import { describe, expect, test } from "bun:test";
import {
  formatLine,
  formatRunner,
  formatText,
  type LogEntry,
  parseLogFormat,
  parsePinoLine,
} from "./log-format.ts";
import { createLogger, secrets } from "./logger.ts";

const entry = (level: string, msg: string, fields: Record<string, unknown> = {}): LogEntry => ({
  time: "2026-11-30T00:00:00.000Z",
  level,
  msg,
  fields,
});

describe("runner format (GitLab Runner's RunnerTextFormatter)", () => {
  test.each([
    [
      "info",
      "Checking for jobs... received",
      { runner: "abc", job: 12 },
      `${"Checking for jobs... received".padEnd(50)}  job=12 runner=abc`,
    ],
    ["warn", "Job failed", { job: 3 }, `WARNING: ${"Job failed".padEnd(41)}  job=3`],
    ["error", "bad", {}, `ERROR: ${"bad".padEnd(43)} `],
    ["fatal", "gone", {}, `FATAL: ${"gone".padEnd(43)} `],
    ["info", "x".repeat(60), { a: { b: 1 } }, `${"x".repeat(60)}  a={"b":1}`],
  ] as const)("%s %p", (level, msg, fields, expected) => {
    expect(formatRunner(entry(level, msg, fields), false)).toBe(`${expected}\n`);
  });

  test("colours the prefix and the keys only when asked", () => {
    const line = formatRunner(entry("warn", "careful", { k: "v" }), true);
    expect(line).toBe(`\x1b[0;33mWARNING: ${"careful".padEnd(41)}\x1b[0;m  \x1b[0;33mk\x1b[0;m=v\n`);
  });
});

describe("text format (logrus TextFormatter, no terminal)", () => {
  test.each([
    [
      entry("info", "ready", { service: "poller" }),
      'time="2026-11-30T00:00:00.000Z" level=info msg=ready service=poller',
    ],
    [
      entry("warn", "two words", { b: "x y", a: 1 }),
      'time="2026-11-30T00:00:00.000Z" level=warning msg="two words" a=1 b="x y"',
    ],
    [
      entry("debug", "", { path: "/a/b-c_d.e@f" }),
      'time="2026-11-30T00:00:00.000Z" level=debug msg="" path=/a/b-c_d.e@f',
    ],
    [
      entry("error", 'say "hi"', { q: 'a"b' }),
      'time="2026-11-30T00:00:00.000Z" level=error msg="say \\"hi\\"" q="a\\"b"',
    ],
  ])("%#", (e, expected) => {
    expect(formatText(e)).toBe(`${expected}\n`);
  });
});

describe("choosing a format", () => {
  test("json lines pass through unchanged; a line that is not JSON passes through too", () => {
    const line = '{"level":"info","time":"t","service":"s","msg":"m"}\n';
    expect(formatLine(line, "json", false)).toBe(line);
    expect(formatLine("not json\n", "text", false)).toBe("not json\n");
  });

  test("parsePinoLine drops pid and hostname and keeps the fields", () => {
    expect(parsePinoLine('{"level":"warn","time":"t","pid":1,"hostname":"h","msg":"m","job":7}')).toEqual({
      time: "t",
      level: "warn",
      msg: "m",
      fields: { job: 7 },
    });
  });

  test("formats are GitLab Runner's three names, case-insensitive; anything else is refused by name", () => {
    expect(parseLogFormat("Runner")).toBe("runner");
    expect(() => parseLogFormat("xml", "--log-format")).toThrow(
      '--log-format: expected one of runner, text, json, got "xml"',
    );
  });

  test("the logger writes each format and still redacts secrets", () => {
    using _token = secrets.hold("glrt-abcdefghijklmnopqrst");
    for (const [format, shape] of [
      ["runner", /^WARNING: token \[REDACTED\] {2,}job=5 service=t\n$/],
      ["text", /^time="[^"]+" level=warning msg="token \[REDACTED\]" job=5 service=t\n$/],
      ["json", /^\{"level":"warn","time":"[^"]+","service":"t","job":5,"msg":"token \[REDACTED\]"\}\n$/],
    ] as const) {
      const lines: string[] = [];
      const log = createLogger({
        service: "t",
        format,
        colours: false,
        destination: { write: (l) => lines.push(l) },
      });
      log.warn({ job: 5 }, "token glrt-abcdefghijklmnopqrst");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(shape);
    }
  });
});
