// The simulate command's choices and refusals, with config.toml parsed in memory.
import { describe, expect, test } from "bun:test";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../libs/config/parse-config.ts";
import { simulateCommand } from "./simulate-command.ts";

const entry = (name: string) => `[[runners]]
name = "${name}"
url = "https://gitlab.example.com"
token = "glrt-${name}-0123456789"
executor = "instance"
[runners.autoscaler]
plugin = "aws"
`;

async function run(toml: string, args: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), "runmesh-simulate-"));
  const trace = join(dir, "a.csv");
  await writeFile(trace, "0,60\n");
  const out: string[] = [];
  const code = await simulateCommand(
    { trace, config: "config.toml", start: "2026-11-30T00:00:00Z", ...args },
    {
      loadConfig: async (source) => parseConfig(`concurrent = 1\n${toml}`, { source }),
      out: (l) => out.push(l),
    },
  );
  return { code, out };
}

describe("runmesh autoscaler simulate", () => {
  test("the only autoscaled entry is replayed by default; --name picks one of several", async () => {
    expect((await run(entry("a"), {})).out[0]).toStartWith('runner "a": 1 jobs');
    expect((await run(entry("a") + entry("b"), { name: "b" })).out[0]).toStartWith('runner "b": 1 jobs');
  });

  test.each<[string, string, Record<string, string>, string]>([
    [
      "several entries and no --name",
      entry("a") + entry("b"),
      {},
      'config.toml has 2 autoscaled runner entries ("a", "b"): pick one with --name',
    ],
    [
      "--name of no entry",
      entry("a"),
      { name: "zz" },
      '--name zz: no autoscaled runner entry of that name in config.toml (there are "a")',
    ],
    ["no autoscaled entry", "", {}, "config.toml: no [[runners]] entry with executor"],
    [
      "a boot time that is no number",
      entry("a"),
      { boot: "soon" },
      '--boot: expected seconds (a non-negative number), got "soon"',
    ],
    ["a start that is no time", entry("a"), { start: "monday" }, "--start: expected an ISO 8601 time"],
    [
      "a trace file that is not there",
      entry("a"),
      { trace: "/nonexistent.csv" },
      "--trace /nonexistent.csv: cannot read it (ENOENT)",
    ],
  ])("refuses %s, saying what to do", async (_, toml, args, message) => {
    await expect(run(toml, args)).rejects.toThrow(message);
  });
});
