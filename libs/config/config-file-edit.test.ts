// The CLI's config.toml edits keep everything they do not change (comments, order, quoting,
// other tables), prove themselves by re-parsing, fall back to re-encoding when the line scanner
// would get it wrong, and replace the file atomically.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "smol-toml";
import {
  appendRunner,
  removeRunners,
  runnerSpans,
  setRunnerKeys,
  tomlKeyValue,
  writeFileAtomic,
} from "./config-file-edit.ts";

const CONFIG = `# managed by hand: keep this comment
concurrent = 4  # four at once
check_interval = 0

[session_server]
  session_timeout = 1800

# --- first runner ---
[[runners]]
  name = "first"
  url = "https://gitlab.example.com"
  token = "glrt-first"   # rotated by runmesh
  executor = "docker"
  [runners.docker]
    image = "ruby:3.3"
    volumes = ["/cache"]
  [[runners.docker.services]]
    name = "postgres:16"

# --- second runner ---
[[runners]]
  name = "second"
  url = "https://gitlab.example.com"
  token = "glrt-second"
  executor = "shell"
  [runners.cache]
    Type = "s3"

[mesh]
  nats_url = "nats://127.0.0.1:4222" # runmesh's own table, after the runners
`;

const names = (text: string) =>
  ((parse(text).runners as { name: string }[] | undefined) ?? []).map((r) => r.name);

describe("runner entries in the text", () => {
  test("spans cover each entry with its sub-tables and stop before the next one's comments", () => {
    const lines = CONFIG.split("\n");
    const spans = runnerSpans(lines);
    expect(spans).toHaveLength(2);
    expect(lines[spans[0]!.start]).toBe("[[runners]]");
    expect(lines[spans[0]!.end - 1]).toBe('    name = "postgres:16"');
    expect(lines[spans[1]!.end - 1]).toBe('    Type = "s3"');
  });

  test("a [[runners]] header inside a multi-line string is not an entry", () => {
    const text = `[[runners]]\nname = "a"\npre_build_script = """\n[[runners]]\necho hi\n"""\n`;
    expect(runnerSpans(text.split("\n"))).toHaveLength(1);
  });
});

describe("removeRunners", () => {
  test.each([
    [[0], ["second"]],
    [[1], ["first"]],
    [[0, 1], []],
  ])("removing %p leaves %p and every other line as it was", (indexes, left) => {
    const { text, preserved } = removeRunners(CONFIG, indexes);
    expect(preserved).toBe(true);
    expect(names(text)).toEqual(left);
    expect(text).toContain("# managed by hand: keep this comment\nconcurrent = 4  # four at once");
    expect(text).toContain(
      '[mesh]\n  nats_url = "nats://127.0.0.1:4222" # runmesh\'s own table, after the runners',
    );
    // Kept lines are byte-identical and in their order.
    const kept = text.split("\n");
    let at = 0;
    for (const line of kept) {
      const found = CONFIG.split("\n").indexOf(line, at);
      expect(found).toBeGreaterThanOrEqual(at);
      at = found + 1;
    }
  });

  test("the removed entry's sub-tables go with it", () => {
    const { text } = removeRunners(CONFIG, [0]);
    expect(text).not.toContain("postgres");
    expect(text).not.toContain("ruby:3.3");
    expect((parse(text).mesh as { nats_url: string }).nats_url).toBe("nats://127.0.0.1:4222");
  });
});

describe("setRunnerKeys", () => {
  test("replaces the token in place, keeping its line's neighbours and the other entry", () => {
    const obtained = new Date("2026-11-30T00:10:20.345Z");
    const { text, preserved } = setRunnerKeys(CONFIG, 0, {
      token: "glrt-new",
      token_obtained_at: obtained,
      token_expires_at: new Date("2027-01-01T00:00:00Z"),
    });
    expect(preserved).toBe(true);
    expect(text).toContain(
      '  token = "glrt-new"\n  token_obtained_at = 2026-11-30T00:10:20Z\n  token_expires_at = 2027-01-01T00:00:00Z\n  executor = "docker"',
    );
    expect(text).toContain('token = "glrt-second"');
    expect(text).toContain("# --- first runner ---");
    const doc = parse(text) as unknown as { runners: { token: string; token_obtained_at: Date }[] };
    expect(doc.runners[0]!.token_obtained_at.toISOString()).toBe("2026-11-30T00:10:20.000Z");
  });

  test("an existing key is rewritten where it is; undefined removes it", () => {
    const once = setRunnerKeys(CONFIG, 1, { token_expires_at: new Date("2027-01-01T00:00:00Z") }).text;
    const { text } = setRunnerKeys(once, 1, { token: "glrt-2", token_expires_at: undefined });
    expect(text).not.toContain("token_expires_at");
    expect(text).toContain('token = "glrt-2"');
  });

  test("keys of a sub-table with the same name are not touched", () => {
    const text = `[[runners]]\nname = "a"\ntoken = "glrt-a"\n[runners.custom]\ntoken = "not-this"\n`;
    const out = setRunnerKeys(text, 0, { token: "glrt-b" });
    expect(out.text).toBe(
      `[[runners]]\nname = "a"\ntoken = "glrt-b"\n[runners.custom]\ntoken = "not-this"\n`,
    );
  });
});

test("a layout the line scanner misreads falls back to re-encoding: values intact, and it says so", () => {
  // `["x"]` inside a multi-line array looks like a table header to the scanner.
  const text = `# comment\n[[runners]]\nname = "a"\ntoken = "glrt-a"\nenvironment = [\n["x"]\n]\n\n[[runners]]\nname = "b"\ntoken = "glrt-b"\n`;
  const out = removeRunners(text, [0]);
  expect(out.preserved).toBe(false);
  expect(names(out.text)).toEqual(["b"]);
  expect(out.text).not.toContain("# comment");
});

describe("appendRunner", () => {
  test("adds an entry with its sub-tables at the end, the file above untouched", () => {
    const { text, preserved } = appendRunner(CONFIG, {
      name: "third",
      url: "https://gitlab.example.com",
      id: 7,
      token: "glrt-third",
      token_obtained_at: new Date("2026-11-30T00:00:00Z"),
      executor: "docker",
      docker: { image: "alpine", volumes: ["/cache"] },
    });
    expect(preserved).toBe(true);
    expect(text.startsWith(CONFIG)).toBe(true);
    expect(names(text)).toEqual(["first", "second", "third"]);
    expect((parse(text).runners as { docker?: { image: string } }[])[2]!.docker?.image).toBe("alpine");
  });

  test("into an empty file", () => {
    const { text } = appendRunner("", { name: "only", url: "https://g", token: "glrt-x", executor: "shell" });
    expect(names(text)).toEqual(["only"]);
  });
});

test("tomlKeyValue writes dates as TOML date-times in whole seconds and quotes strings", () => {
  expect(tomlKeyValue("token_obtained_at", new Date("2026-11-30T01:02:03.999Z"))).toBe(
    "token_obtained_at = 2026-11-30T01:02:03Z",
  );
  expect(tomlKeyValue("token", 'a"b')).toBe('token = "a\\"b"');
});

describe("writeFileAtomic", () => {
  test("replaces the file, keeps its mode, leaves no temporary file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "runmesh-atomic-"));
    const path = join(dir, "config.toml");
    writeFileSync(path, "concurrent = 1\n", { mode: 0o640 });
    await writeFileAtomic(path, "concurrent = 2\n");
    expect(readFileSync(path, "utf8")).toBe("concurrent = 2\n");
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir)).toEqual(["config.toml"]);
  });

  test("a new file is private (0600: it holds tokens)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "runmesh-atomic-"));
    const path = join(dir, "config.toml");
    await writeFileAtomic(path, "x = 1\n");
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  test("a reader never sees a partial file while writes race", async () => {
    const dir = mkdtempSync(join(tmpdir(), "runmesh-atomic-"));
    const path = join(dir, "config.toml");
    const big = (c: string) => `${`# ${c.repeat(200)}\n`.repeat(2000)}end = "${c}"\n`;
    writeFileSync(path, big("a"));
    const sizes = new Set<number>();
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        sizes.add(readFileSync(path).length);
        await Bun.sleep(0);
      }
    })();
    for (let i = 0; i < 20; i++) await writeFileAtomic(path, big(i % 2 ? "a" : "b"));
    stop = true;
    await reader;
    expect([...sizes]).toEqual([big("a").length]);
  });
});
