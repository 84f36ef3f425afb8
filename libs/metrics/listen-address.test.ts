import { describe, expect, test } from "bun:test";
import { ListenAddressError, parseListenAddress } from "./listen-address.ts";

describe("listen_address as GitLab Runner reads it", () => {
  const cases: [string | undefined, { hostname: string; port: number; display: string } | undefined][] = [
    [undefined, undefined],
    ["", undefined],
    ["   ", undefined],
    ["127.0.0.1:9252", { hostname: "127.0.0.1", port: 9252, display: "127.0.0.1:9252" }],
    ["127.0.0.1", { hostname: "127.0.0.1", port: 9252, display: "127.0.0.1:9252" }],
    ["localhost", { hostname: "localhost", port: 9252, display: "localhost:9252" }],
    [":8093", { hostname: "0.0.0.0", port: 8093, display: "0.0.0.0:8093" }],
    ["[::]:8093", { hostname: "::", port: 8093, display: "[::]:8093" }],
    ["[::1]", { hostname: "::1", port: 9252, display: "[::1]:9252" }],
    ["127.0.0.1:0", { hostname: "127.0.0.1", port: 0, display: "127.0.0.1:0" }],
  ];
  for (const [input, want] of cases)
    test(`${JSON.stringify(input)} → ${want?.display ?? "off"}`, () => {
      expect(parseListenAddress(input)).toEqual(want);
    });

  const bad: [string, string][] = [
    ["::1", "too many colons"],
    ["[::1", "missing ']'"],
    ["[::1]x", "after ']'"],
    ["host:http", 'port "http"'],
    ["host:65536", 'port "65536"'],
    ["host:", 'port ""'],
  ];
  for (const [input, why] of bad)
    test(`${JSON.stringify(input)} is refused: ${why}`, () => {
      expect(() => parseListenAddress(input)).toThrow(ListenAddressError);
      expect(() => parseListenAddress(input)).toThrow(why);
      expect(() => parseListenAddress(input)).toThrow(`listen_address ${JSON.stringify(input)}`);
    });
});
