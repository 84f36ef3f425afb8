// CI runs exactly the test command the README gives first, and that command runs everything CI
// checks (typecheck, lint, every test): a README command that skips lint would let CI and a new
// user disagree.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

test("the README's test command is what .ci/run runs, and it typechecks, lints and runs every test", () => {
  const block = /```sh\n([\s\S]*?)```/.exec(read("README.md"))?.[1] ?? "";
  const commands = block.split("\n").map((l) => l.replace(/#.*$/, "").trim());
  const testCommand = commands.find((c) => /^npm (run )?test\b/.test(c));
  expect(testCommand).toBe("npm test");
  const ciCommands = read(".ci/run")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#") && !l.startsWith("set ") && !l.startsWith("cd "));
  expect(ciCommands).toEqual([testCommand!]);
  const script = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts.test!;
  expect(script).toContain("scripts/setup.sh");
  expect(script).toContain("tsc -p .");
  expect(script).toContain("biome ci");
  expect(script).toContain("bun test");
});
