// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} is the Go expansion syntax under test
import { describe, expect, test } from "bun:test";
import { expandedNames, goExpand, goExpandEnv } from "./go-expand-env.ts";

// Go's own vectors: os/env_test.go testGetenv and expandTests (TestExpand).
function testGetenv(s: string): string {
  switch (s) {
    case "*":
      return "all the args";
    case "#":
      return "NARGS";
    case "$":
      return "PID";
    case "1":
      return "ARGUMENT1";
    case "HOME":
      return "/usr/gopher";
    case "H":
      return "(Value of H)";
    case "home_1":
      return "/usr/foo";
    case "_":
      return "underscore";
  }
  return "";
}

const GO_EXPAND_TESTS: [string, string][] = [
  ["", ""],
  ["$*", "all the args"],
  ["$$", "PID"],
  ["${*}", "all the args"],
  ["$1", "ARGUMENT1"],
  ["${1}", "ARGUMENT1"],
  ["now is the time", "now is the time"],
  ["$HOME", "/usr/gopher"],
  ["$home_1", "/usr/foo"],
  ["${HOME}", "/usr/gopher"],
  ["${H}OME", "(Value of H)OME"],
  ["A$$$#$1$H$home_1*B", "APIDNARGSARGUMENT1(Value of H)/usr/foo*B"],
  ["start$+middle$^end$", "start$+middle$^end$"],
  ["mixed$|bag$$$", "mixed$|bagPID$"],
  ["$", "$"],
  ["$}", "$}"],
  ["${", ""], // invalid syntax; eat up the characters
  ["${}", ""], // invalid syntax; eat up the characters
];

describe("goExpand (Go's TestExpand)", () => {
  test.each(GO_EXPAND_TESTS)("%p expands to %p", (input, output) => {
    expect(goExpand(input, testGetenv)).toBe(output);
  });
});

describe("goExpandEnv on runner urls and tokens", () => {
  const env = { RUNNER_TOKEN: "glrt-abc", GITLAB_HOST: "gitlab.example.com" };
  test.each([
    ["$RUNNER_TOKEN", "glrt-abc"],
    ["${RUNNER_TOKEN}", "glrt-abc"],
    ["https://${GITLAB_HOST}/", "https://gitlab.example.com/"],
    ["https://$GITLAB_HOST:8443", "https://gitlab.example.com:8443"],
    ["$UNSET_ONE", ""],
    ["${RUNNER_TOKEN:-fallback}", ""], // no shell defaults: the whole name is unset
    ["glrt-plain", "glrt-plain"],
  ])("%p is %p", (input, output) => {
    expect(goExpandEnv(input, env)).toBe(output);
  });

  test("names the variables it reads", () => {
    expect(expandedNames("https://${HOST}:$PORT/$")).toEqual(["HOST", "PORT"]);
  });
});
