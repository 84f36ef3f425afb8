// The workspace transfer's pure parts (listing parse, roots of patterns) in tables, and
// remoteWorkspace over a "remote" project dir that is a directory on this host reached only
// through the scripts a remote executor runs (LIST_SCRIPT, TAR_CREATE_SCRIPT, TAR_EXTRACT_SCRIPT
// under sh, real GNU find and tar): what is selected is fetched and nothing else, a symlink out
// of the project dir is refused, untracked files come from the remote side, and a tree imported
// back lands in the project dir.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { selectFiles } from "../artifacts/artifact-files.ts";
import {
  coveringRoots,
  extractTar,
  LIST_SCRIPT,
  parseListing,
  pipeInto,
  type RemoteProjectDir,
  remoteWorkspace,
  rootArgs,
  staticRoot,
  TAR_CREATE_SCRIPT,
  TAR_EXTRACT_SCRIPT,
} from "./workspace-transfer.ts";

const never = new AbortController().signal;
const root = mkdtempSync(join(tmpdir(), "runmesh-workspace-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("pure parts", () => {
  test.each([
    ["dist/", "dist"],
    ["dist/**/*.js", "dist"],
    ["*.log", "."],
    ["a/b/c.txt", "a/b/c.txt"],
    ["./a/{x,y}/z", "a"],
    ["../out", undefined],
    ["/etc/passwd", undefined],
  ])("the static root of %p is %p", (pattern, want) => {
    expect(staticRoot(pattern)).toBe(want);
  });

  test.each([
    [
      ["b", "a/x", "a"],
      ["a", "b"],
    ],
    [["a", ".", "b"], ["."]],
    [
      ["ab", "a"],
      ["a", "ab"],
    ],
  ])("covering roots of %p: %p", (paths, want) => {
    expect(coveringRoots(paths)).toEqual(want);
  });

  test("a listing parses into entries relative to the project dir; escaping names are dropped", () => {
    const out = ["d", "", "./dist", "f", "", "./dist/a.js", "l", "/etc", "./etc-link", "f", "", "../x", ""];
    expect(parseListing(out.join("\0"))).toEqual([
      { path: "dist", type: "dir", target: undefined },
      { path: "dist/a.js", type: "file", target: undefined },
      { path: "etc-link", type: "symlink", target: "/etc" },
    ]);
  });

  test("roots are ./-prefixed so a name starting with - is no option", () => {
    expect(rootArgs(["-rf", "."])).toEqual(["./-rf", "."]);
  });
});

/** A RemoteProjectDir that reaches `projectDir` only through the scripts remote executors run. */
function scriptedRemote(projectDir: string, fetched: string[][]): RemoteProjectDir {
  const sh = (script: string, stdin: string | Readable) => {
    const proc = spawn("sh", ["-c", script], { cwd: projectDir, stdio: ["pipe", "pipe", "inherit"] });
    const out = proc.stdout;
    const chunks: Buffer[] = [];
    if (typeof stdin === "string") proc.stdin.end(stdin);
    else void pipeInto(stdin, proc.stdin);
    return {
      out,
      text: async () => {
        for await (const c of out) chunks.push(c as Buffer);
        return Buffer.concat(chunks).toString("utf8");
      },
    };
  };
  const nul = (roots: readonly string[]) =>
    rootArgs(roots)
      .map((r) => `${r}\0`)
      .join("");
  return {
    projectDir,
    list: async (roots) => parseListing(await sh(LIST_SCRIPT, nul(roots)).text()),
    untracked: async () =>
      (await sh("git ls-files -o -z 2>/dev/null || true", "").text()).split("\0").filter(Boolean),
    fetch: async (roots, localDir, signal) => {
      fetched.push([...roots]);
      await extractTar(sh(TAR_CREATE_SCRIPT, nul(roots)).out, localDir, signal);
    },
    push: async (tar) => {
      await sh(TAR_EXTRACT_SCRIPT, tar).text();
    },
  };
}

describe("remoteWorkspace over a scripted remote", () => {
  const project = join(root, "remote", "project");
  beforeAll(() => {
    mkdirSync(join(project, "dist/sub"), { recursive: true });
    writeFileSync(join(project, "dist/sub/out.js"), "out");
    writeFileSync(join(project, "dist/skip.map"), "map");
    writeFileSync(join(project, "big.bin"), Buffer.alloc(1 << 20, 1));
    writeFileSync(join(project, "app.log"), "log");
    symlinkSync("/etc/passwd", join(project, "leak"));
    symlinkSync("dist/sub/out.js", join(project, "main.js"));
    symlinkSync(join(project, "dist"), join(project, "abs-inside"));
  });

  test("the selection on the copy equals the selection on the project dir, and only it is fetched", async () => {
    const fetched: string[][] = [];
    const ws = remoteWorkspace(scriptedRemote(project, fetched));
    const sel = {
      paths: ["dist/", "*.log", "main.js", "abs-inside"],
      exclude: ["**/*.map"],
      untracked: false,
    };
    const staging = mkdtempSync(join(root, "staging-"));
    const view = await ws.exportPaths(sel, staging, never);
    const onCopy = await selectFiles(view.dir, sel, view.listUntracked);
    const onProject = await selectFiles(project, sel);
    // Shell keeps an absolute symlink into the project dir; on a copy it would point out: refused.
    expect(onCopy.files).toEqual(onProject.files.filter((f) => f !== "abs-inside"));
    expect(onCopy.warnings.join("\n")).toContain("abs-inside: symlink points outside the project directory");
    expect(fetched).toEqual([["app.log", "dist", "main.js"]]);
    expect(readFileSync(join(view.dir, "dist/sub/out.js"), "utf8")).toBe("out");
    expect(readlinkSync(join(view.dir, "main.js"))).toBe("dist/sub/out.js");
    // The listing reached big.bin (`*.log` lists the whole dir); only its placeholder is here.
    expect(statSync(join(view.dir, "big.bin")).size).toBe(0);
  });

  test("a symlink pointing out of the remote project dir is refused on the copy as on shell", async () => {
    const ws = remoteWorkspace(scriptedRemote(project, []));
    const sel = { paths: ["leak", "app.log"], exclude: [], untracked: false };
    const view = await ws.exportPaths(sel, mkdtempSync(join(root, "staging-")), never);
    const selected = await selectFiles(view.dir, sel, view.listUntracked);
    expect(selected.files).toEqual(["app.log"]);
    expect(selected.warnings.join("\n")).toContain("leak: symlink points outside the project directory");
  });

  test("untracked files are git's on the remote side, not the copy's", async () => {
    const repo = join(root, "remote", "repo");
    mkdirSync(join(repo, "deep/er"), { recursive: true });
    spawnSync("git", ["init", "-q", repo]);
    writeFileSync(join(repo, "deep/er/new.txt"), "n");
    const ws = remoteWorkspace(scriptedRemote(repo, []));
    const sel = { paths: [], exclude: [], untracked: true };
    const view = await ws.exportPaths(sel, mkdtempSync(join(root, "staging-")), never);
    expect(await view.listUntracked()).toEqual(["deep/er/new.txt"]);
    const selected = await selectFiles(view.dir, sel, view.listUntracked);
    expect(selected.files).toEqual(["deep/er/new.txt"]);
    expect(readFileSync(join(view.dir, "deep/er/new.txt"), "utf8")).toBe("n");
  });

  test("an imported tree lands in the project dir, symlinks as symlinks", async () => {
    const ws = remoteWorkspace(scriptedRemote(project, []));
    const staging = mkdtempSync(join(root, "staging-"));
    const into = ws.importDir(staging);
    mkdirSync(join(into, "restored"), { recursive: true });
    writeFileSync(join(into, "restored/a.txt"), "a");
    symlinkSync("a.txt", join(into, "restored/link"));
    await ws.importTree(staging, never);
    expect(readFileSync(join(project, "restored/a.txt"), "utf8")).toBe("a");
    expect(readlinkSync(join(project, "restored/link"))).toBe("a.txt");
    expect(existsSync(join(project, "staging"))).toBe(false);
  });
});
