// Bad config files: one clear message each and a non-zero exit, from the real command.
import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnRunmesh } from "./processes.ts";

const good = (extra: string, runner = "") => `concurrent = 2
${extra}
[[runners]]
name = "r1"
url = "http://127.0.0.1:9"
token = "glrt-config-test-0123456789"
executor = "shell"
${runner}
`;

test.each([
  [
    "a wrong type names the runner, the key, what was expected and what was found",
    good("", 'limit = "two"'),
    [/runner "r1"/, /limit/, /expected an integer/i, /"two"/],
  ],
  [
    "concurrent = 0 is fatal, as in GitLab Runner",
    good("").replace("concurrent = 2", "concurrent = 0"),
    [/concurrent/, /0 is forbidden/],
  ],
  [
    "an unknown executor is named",
    good("").replace('executor = "shell"', 'executor = "dockr"'),
    [/runner "r1"/, /executor/, /"dockr"/],
  ],
  ["malformed TOML gives the line", "concurrent = 2\n[[runners]\nname = 1\n", [/line 2/i]],
])("%s", async (_name, text, patterns) => {
  const dir = mkdtempSync(join(tmpdir(), "runmesh-badcfg-"));
  const path = join(dir, "config.toml");
  writeFileSync(path, text);
  const p = spawnRunmesh(["run", "--config", path]);
  const code = await p.exited;
  await Bun.sleep(50);
  const out = p.lines.join("\n");
  expect(code).not.toBe(0);
  for (const re of patterns) expect(out).toMatch(re);
  expect(out).not.toMatch(/^\s+at .*\(.*:\d+:\d+\)$/m);
});

test("a missing config file says so and how to fix it", async () => {
  const p = spawnRunmesh(["run", "--config", "/nonexistent/runmesh/config.toml"]);
  expect(await p.exited).not.toBe(0);
  await Bun.sleep(50);
  expect(p.lines.join("\n")).toMatch(/does not exist/);
});
