// Artifact selection, zip round trips and the two Runner API calls, against real files, real git
// and the strict test coordinator (tests/coordinator: GitLab's status codes for the routes).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Coordinator, startCoordinator } from "../../tests/coordinator/coordinator.ts";
import { archiveKind, downloadDependency } from "./artifact-download.ts";
import { excludedBy, insideProject, selectFiles } from "./artifact-files.ts";
import { type ArtifactEntry, compressionLevel, uploadEntry } from "./artifact-upload.ts";
import { uploadArtifact } from "./artifacts-client.ts";
import { extractZip, writeZip } from "./zip-archive.ts";

const root = mkdtempSync(join(tmpdir(), "runmesh-artifacts-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => {
  const d = join(root, `${name}-${++n}`);
  mkdirSync(d, { recursive: true });
  return d;
};
function tree(dir: string, files: Record<string, string>) {
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(dir, p, ".."), { recursive: true });
    writeFileSync(join(dir, p), c);
  }
}
const entry = (o: Partial<ArtifactEntry>): ArtifactEntry => ({
  name: "",
  untracked: false,
  paths: [],
  exclude: [],
  artifact_type: "",
  artifact_format: "",
  expire_in: "",
  ...o,
});
const collect = () => {
  const lines: string[] = [];
  return {
    lines,
    log: {
      println: (t: string) => lines.push(t),
      warning: (t: string) => lines.push(`WARNING: ${t}`),
      error: (t: string) => lines.push(`ERROR: ${t}`),
    },
  };
};

describe("artifact file selection (pure parts)", () => {
  test.each([
    ["out/a.txt", "out/a.txt"],
    ["./out/", "out"],
    ["out/../x", "x"],
    ["../x", undefined],
    ["/etc/passwd", undefined],
    ["a/../../x", undefined],
  ])("insideProject(%p) = %p", (path, want) => expect(insideProject(path)).toBe(want));

  test.each([
    ["logs/a.log", ["logs/**"], "logs/**"],
    ["logs/deep/a.log", ["logs"], "logs"],
    ["src/a.ts", ["*.log", "logs/"], undefined],
    ["a.log", ["*.log"], "*.log"],
  ])("excludedBy(%p, %p) = %p", (rel, ex, want) => expect(excludedBy(rel, ex)).toBe(want));

  test.each([
    ["fastest", 0],
    ["FAST", 1],
    ["default", 5],
    ["slow", 7],
    ["slowest", 9],
    ["", 5],
    ["bogus", 5],
  ])("compressionLevel(%p) = %p", (v, want) => expect(compressionLevel(v)).toBe(want));

  test.each([
    [[0x50, 0x4b, 3, 4], "zip"],
    [[0x1f, 0x8b, 8, 0], "gzip"],
    [[0x28, 0xb5, 0x2f, 0xfd], "zstd"],
  ])("archiveKind(%p) = %p", (b, want) =>
    expect(archiveKind(new Uint8Array(b)) as string).toBe(want as string),
  );
});

describe("selectFiles", () => {
  test("globs, directories, exclude and untracked (ignored files included, as GitLab documents)", async () => {
    const dir = fresh("sel");
    execFileSync("git", ["init", "-q", dir]);
    tree(dir, {
      "dist/app.js": "1",
      "dist/app.js.map": "2",
      "dist/sub/x.txt": "3",
      "build/a.o": "4",
      ".gitignore": "*.tmp\n",
      "cache.tmp": "5",
      "tracked.txt": "6",
    });
    execFileSync("git", ["-C", dir, "add", "tracked.txt", ".gitignore"]);
    const sel = await selectFiles(dir, {
      paths: ["dist/", "build/*.o", "missing/"],
      exclude: ["**/*.map"],
      untracked: false,
    });
    expect(sel.files).toEqual(["build/a.o", "dist", "dist/app.js", "dist/sub", "dist/sub/x.txt"]);
    expect(sel.warnings.join("\n")).toContain("missing/: no matching files");
    const untracked = await selectFiles(dir, { paths: [], exclude: ["dist/**", "build"], untracked: true });
    expect(untracked.files).toEqual(["cache.tmp"]);
  });

  test("paths leaving the project dir and symlinks pointing out are refused, nothing read", async () => {
    const dir = fresh("escape");
    const outside = fresh("outside");
    tree(outside, { "secret.txt": "s" });
    tree(dir, { "ok.txt": "o" });
    symlinkSync(join(outside, "secret.txt"), join(dir, "link-out"));
    symlinkSync("ok.txt", join(dir, "link-in"));
    const sel = await selectFiles(dir, {
      paths: ["../outside-*/secret.txt", join(outside, "secret.txt"), "link-out", "link-in", "ok.txt"],
      exclude: [],
      untracked: false,
    });
    expect(sel.files).toEqual(["link-in", "ok.txt"]);
    expect(sel.warnings.filter((w) => w.includes("not a subpath")).length).toBe(2);
    expect(sel.warnings.some((w) => w.includes("link-out: symlink points outside"))).toBe(true);
  });
});

describe("zip archives", () => {
  test("round trip keeps contents, modes, directories and in-tree symlinks", async () => {
    const src = fresh("zsrc");
    tree(src, { "a/b.txt": "hello", "run.sh": "#!/bin/sh\n", "big.bin": "x".repeat(100_000) });
    execFileSync("chmod", ["755", join(src, "run.sh")]);
    symlinkSync("a/b.txt", join(src, "link"));
    mkdirSync(join(src, "empty"));
    const zip = join(fresh("zout"), "a.zip");
    await writeZip(src, ["a", "a/b.txt", "big.bin", "empty", "link", "run.sh"], zip, 9);
    const dst = fresh("zdst");
    const result = await extractZip(zip, dst);
    expect(result.warnings).toEqual([]);
    expect(readFileSync(join(dst, "a/b.txt"), "utf8")).toBe("hello");
    expect(readFileSync(join(dst, "big.bin"), "utf8").length).toBe(100_000);
    expect(readlinkSync(join(dst, "link"))).toBe("a/b.txt");
    expect(existsSync(join(dst, "empty"))).toBe(true);
    expect(
      execFileSync("stat", ["-c", "%a", join(dst, "run.sh")])
        .toString()
        .trim(),
    ).toBe("755");
    // unzip -t agrees the archive is sound.
    expect(execFileSync("unzip", ["-tq", zip]).toString()).toContain("No errors");
  });

  test("an entry named ../x is refused and nothing is written outside", async () => {
    const src = fresh("evil");
    tree(src, { "zz/evil.txt": "pwned", "good.txt": "g" });
    const zip = join(fresh("evilzip"), "e.zip");
    await writeZip(src, ["good.txt", "zz/evil.txt"], zip, 0);
    // Same length, so offsets stay valid: "zz/" → "../" in both headers.
    const bytes = readFileSync(zip);
    writeFileSync(
      zip,
      Buffer.from(bytes.toString("latin1").replaceAll("zz/evil.txt", "../evil.txt"), "latin1"),
    );
    const parent = fresh("evilparent");
    const dst = join(parent, "project");
    mkdirSync(dst);
    const result = await extractZip(zip, dst);
    expect(result.warnings.join()).toContain("../evil.txt: refusing to extract outside");
    expect(existsSync(join(parent, "evil.txt"))).toBe(false);
    expect(readFileSync(join(dst, "good.txt"), "utf8")).toBe("g");
  });
});

describe("Runner API artifact calls against the coordinator", () => {
  const TOKEN = "glrt-artifacts-unit-0123456789";
  let c: Coordinator;
  beforeAll(async () => {
    c = await startCoordinator({ longPollMs: 0, audit: false });
    c.registerRunner(TOKEN);
  });
  afterAll(() => c.stop());

  test("upload: multipart field file, query only for set fields; a dependent job downloads it through the 302", async () => {
    const job = c.runJob(TOKEN);
    const dir = fresh("up");
    tree(dir, { "out/a.txt": "artifact-a", "out/b/c.txt": "artifact-c" });
    const up = collect();
    const error = await uploadEntry(
      { baseUrl: c.url, jobId: job.id, token: job.token, projectDir: dir, log: up.log },
      entry({ name: "bundle", paths: ["out/"], expire_in: "1 week" }),
    );
    expect(error).toBeUndefined();
    const rec = c.calls(`POST jobs/${job.id}/artifacts`)[0]!;
    expect(rec.query).toEqual({ expire_in: "1 week" });
    expect(rec.headers["job-token"]).toBe(job.token);
    expect(c.artifacts.uploads.get(job.id)?.[0]?.fileName).toBe("bundle.zip");
    expect(up.lines.join("\n")).toContain("out/: found 4 matching artifact files and directories");

    const later = c.runJob(TOKEN, {
      dependencies: [{ id: job.id, name: "build", artifacts_file: { filename: "bundle.zip", size: 1 } }],
    });
    const into = fresh("down");
    const down = collect();
    const dep = { id: job.id, name: "build", token: later.token };
    expect(
      await downloadDependency(
        { baseUrl: c.url, projectDir: into, log: down.log, directDownload: true },
        dep,
      ),
    ).toBeUndefined();
    expect(readFileSync(join(into, "out/b/c.txt"), "utf8")).toBe("artifact-c");
    const get = c.calls(`GET jobs/${job.id}/artifacts`).at(-1)!;
    expect(get.query).toEqual({ direct_download: "true" });
    expect(get.status).toBe(302);
    // The object-storage GET carries no job token.
    const object = c.requests.filter((r) => r.path.startsWith("/__objects/")).at(-1)!;
    expect(object.headers["job-token"]).toBeUndefined();

    // A job that does not list it as a dependency is refused (403), not retried.
    const stranger = c.runJob(TOKEN);
    const refused = await downloadDependency(
      { baseUrl: c.url, projectDir: fresh("x"), log: collect().log, directDownload: false, retryDelayMs: 1 },
      { ...dep, token: stranger.token },
    );
    expect(refused).toContain("forbidden (403)");
    expect(
      c.calls(`GET jobs/${job.id}/artifacts`).filter((r) => r.headers["job-token"] === stranger.token).length,
    ).toBe(1);
  });

  test("413 is final and says so; 503 is retried up to 6 tries; other 5xx 3 tries; 307 moves the base URL", async () => {
    const job = c.runJob(TOKEN);
    const dir = fresh("limits");
    tree(dir, { "big.bin": crypto.getRandomValues(new Uint8Array(60_000)).join(",") });
    c.artifacts.maxBytes = 10_000;
    const big = await uploadEntry(
      {
        baseUrl: c.url,
        jobId: job.id,
        token: job.token,
        projectDir: dir,
        log: collect().log,
        retryDelayMs: () => 1,
      },
      entry({ paths: ["big.bin"], artifact_format: "raw" }),
    );
    c.artifacts.maxBytes = 100 * 1024 * 1024;
    expect(big).toContain("too large for GitLab (413)");
    expect(c.calls(`POST jobs/${job.id}/artifacts`).length).toBe(1);

    const file = join(dir, "small.txt");
    writeFileSync(file, "s");
    const route = `POST jobs/${job.id}/artifacts`;
    const attempt = (o: { retryDelayMs: () => number }) =>
      uploadArtifact({
        baseUrl: c.url,
        jobId: job.id,
        token: job.token,
        filePath: file,
        fileName: "small.txt",
        ...o,
      });
    const calls = () => c.calls(route).length;
    let start = calls();
    c.script(route, ...Array.from({ length: 6 }, () => ({ status: 503 })));
    expect((await attempt({ retryDelayMs: () => 1 })).ok).toBe(false);
    expect(calls() - start).toBe(6);
    start = calls();
    c.script(route, { status: 500 }, { status: 502 }, { status: 500 });
    expect((await attempt({ retryDelayMs: () => 1 })).ok).toBe(false);
    expect(calls() - start).toBe(3);
    start = calls();
    c.script(route, { status: 500 });
    expect((await attempt({ retryDelayMs: () => 1 })).ok).toBe(true);
    expect(calls() - start).toBe(2);

    // 307 to another host: the retry goes there (here: the same coordinator by another name).
    const other = c.url.replace("127.0.0.1", "localhost");
    start = calls();
    c.script(route, { status: 307, headers: { Location: `${other}/api/v4/jobs/${job.id}/artifacts` } });
    const moved = await attempt({ retryDelayMs: () => 1 });
    expect(moved.ok).toBe(true);
    expect(moved.lines.join("\n")).toContain(`307 Temporary Redirect`);
    expect(c.calls(route).at(-1)!.headers.host).toContain("localhost");
    expect(calls() - start).toBe(2);
  });

  test("an upload for a job that is not running is refused with 403 and not retried", async () => {
    const job = c.runJob(TOKEN);
    const dir = fresh("fin");
    tree(dir, { "a.txt": "a" });
    const result = await uploadArtifact({
      baseUrl: c.url,
      jobId: job.id,
      token: "wrong-token",
      filePath: join(dir, "a.txt"),
      fileName: "a.txt",
      retryDelayMs: () => 1,
    });
    expect(result.ok).toBe(false);
    expect(result.error).toContain("forbidden (403)");
    expect(c.calls(`POST jobs/${job.id}/artifacts`).length).toBe(1);
  });
});
