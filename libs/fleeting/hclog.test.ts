import { describe, expect, test } from "bun:test";
import { formatHclogLine, hclogTimestamp, parseHclogLine } from "./hclog.ts";

describe("hclog lines", () => {
  test.each([
    [
      '{"@level":"info","@message":"instance created","@module":"docker","@timestamp":"2026-01-02T03:04:05.000000Z","id":"i-1"}',
      { level: "info", message: "instance created", module: "docker", fields: { id: "i-1" } },
    ],
    ['{"@level":"WARNING","@message":"slow"}', { level: "warn", message: "slow", fields: {} }],
    ["panic: runtime error", { level: "debug", message: "panic: runtime error", fields: {} }],
    ['{"not":"hclog"}', { level: "debug", message: '{"not":"hclog"}', fields: {} }],
  ])("parses %s", (line, want) => {
    expect(parseHclogLine(line)).toEqual(want as never);
  });

  test("what our plugins write parses back to the same event, with hclog's timestamp layout", () => {
    const line = formatHclogLine(
      { level: "error", message: "create failed", module: "static", fields: { host: "127.0.0.1:22" } },
      new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)),
    );
    expect(JSON.parse(line)["@timestamp"]).toBe("2026-01-02T03:04:05.678000Z");
    expect(parseHclogLine(line)).toEqual({
      level: "error",
      message: "create failed",
      module: "static",
      fields: { host: "127.0.0.1:22" },
    });
    expect(hclogTimestamp(new Date(0))).toBe("1970-01-01T00:00:00.000000Z");
  });
});
