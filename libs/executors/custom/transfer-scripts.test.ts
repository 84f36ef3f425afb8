// The custom executor's transfer scripts and their framing: the frame reader on driver-shaped
// output (noise around the frame, CRLF, chunks split anywhere, a skipped script, a corrupt
// line), and the scripts themselves run by dash and bash on this host against real files.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseListing } from "../workspace-transfer.ts";
import {
  Base64Lines,
  FrameReader,
  fetchScript,
  listScript,
  pushScript,
  untrackedScript,
} from "./transfer-scripts.ts";

const dir = mkdtempSync(join(tmpdir(), "runmesh-transfer-scripts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const M = "RUNMESH_TRANSFER_test";

function read(chunks: (string | Uint8Array)[]) {
  const data: Buffer[] = [];
  const other: string[] = [];
  const r = new FrameReader(
    M,
    (b) => data.push(b),
    (l) => other.push(l),
  );
  for (const c of chunks) r.write(typeof c === "string" ? Buffer.from(c) : c);
  return { end: r.end(), data: Buffer.concat(data).toString("utf8"), other };
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("FrameReader", () => {
  test("decodes the frame and sets aside the driver's own lines before and after it", () => {
    const r = read([`banner\n${M} begin\n${b64("hello world")}\n${M} end 0\ntrailer\n`]);
    expect(r).toEqual({ end: { exitCode: 0 }, data: "hello world", other: ["banner", "trailer"] });
  });

  test("chunks split inside lines and markers, and CRLF line ends (a TTY), change nothing", () => {
    const text = `${M} begin\r\n${b64("a".repeat(100))}\r\n${M} end 0\r\n`;
    const chunks = [...text].map((c) => c);
    expect(read(chunks)).toEqual({ end: { exitCode: 0 }, data: "a".repeat(100), other: [] });
  });

  test("a body that failed reports its exit code", () => {
    expect(read([`${M} begin\n${M} end 2\n`]).end).toEqual({ exitCode: 2 });
  });

  test("no end marker: the driver did not run the script", () => {
    expect(read(["something else\n"]).end.exitCode).toBeUndefined();
  });

  test("a line inside the frame that is not base64 marks the data corrupt", () => {
    expect(read([`${M} begin\nnot base64!\n${M} end 0\n`]).end.corrupt).toContain("not base64");
  });

  test("base64 lines of any width are decoded across line breaks", () => {
    const all = Buffer.from("0123456789abcdef".repeat(20)).toString("base64");
    const lines = all.match(/.{1,10}/g) ?? [];
    expect(read([`${M} begin\n${lines.join("\n")}\n${M} end 0\n`]).data).toBe("0123456789abcdef".repeat(20));
  });
});

describe("Base64Lines", () => {
  test("4096-character lines that decode to the bytes pushed in any chunking", () => {
    const bytes = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 256));
    const enc = new Base64Lines();
    let text = "";
    for (let i = 0; i < bytes.length; i += 333) text += enc.push(bytes.subarray(i, i + 333));
    text += enc.end();
    const lines = text.trimEnd().split("\n");
    expect(lines.length).toBe(4);
    expect(lines.slice(0, -1).every((l) => l.length === 4096)).toBe(true);
    expect(Buffer.from(lines.join(""), "base64").equals(bytes)).toBe(true);
  });
});

/** Runs a script with `shell` and returns its stdout decoded through the frame. */
function runFramed(shell: string, script: string) {
  const file = join(dir, `s-${crypto.randomUUID()}.sh`);
  writeFileSync(file, script);
  const p = spawnSync(shell, [file]);
  const data: Buffer[] = [];
  const r = new FrameReader(M, (b) => data.push(b));
  r.write(p.stdout);
  return { end: r.end(), data: Buffer.concat(data), status: p.status };
}

describe.each(["dash", "bash"])("the scripts under %s", (shell) => {
  const project = join(dir, `project-${shell}`);
  mkdirSync(join(project, "sub", "deep"), { recursive: true });
  writeFileSync(join(project, "sub", "deep", "f.txt"), "content\n");
  writeFileSync(join(project, "-odd name's"), "x");
  symlinkSync("/etc/passwd", join(project, "sub", "out"));

  test("list: every entry under the roots, symlinks with their own targets, names starting with - safe", () => {
    const r = runFramed(shell, listScript(project, M, ["sub", "-odd name's", "missing"]));
    expect(r.end).toEqual({ exitCode: 0 });
    const entries = parseListing(r.data.toString("utf8")).sort((a, b) => a.path.localeCompare(b.path));
    expect(entries).toEqual([
      { path: "-odd name's", type: "file", target: undefined },
      { path: "sub", type: "dir", target: undefined },
      { path: "sub/deep", type: "dir", target: undefined },
      { path: "sub/deep/f.txt", type: "file", target: undefined },
      { path: "sub/out", type: "symlink", target: "/etc/passwd" },
    ]);
  });

  test("fetch: a tar of the roots; push: that tar extracted into another dir", () => {
    const r = runFramed(shell, fetchScript(project, M, ["sub"]));
    expect(r.end).toEqual({ exitCode: 0 });
    const target = join(dir, `pushed-${shell}`, "deeper");
    const { head, tail } = pushScript(target, M);
    const enc = new Base64Lines();
    const pushed = runFramed(shell, head + enc.push(r.data) + enc.end() + tail);
    expect(pushed.end).toEqual({ exitCode: 0 });
    expect(readFileSync(join(target, "sub", "deep", "f.txt"), "utf8")).toBe("content\n");
  });

  test("fetch of a root tar cannot read fails with tar's exit code in the end marker", () => {
    const r = runFramed(shell, fetchScript(project, M, ["no-such-dir"]));
    expect(r.end.exitCode).not.toBe(0);
    expect(r.end.exitCode).toBeGreaterThan(0);
  });

  test("untracked: nothing outside a work tree", () => {
    const r = runFramed(shell, untrackedScript(project, M));
    expect(r.end).toEqual({ exitCode: 0 });
    expect(r.data.length).toBe(0);
  });
});
