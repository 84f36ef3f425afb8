// tar.zst (GitLab Runner's tarzstd cache format) against the real tools: what runmesh writes,
// GNU tar (`tar --zstd`) lists and extracts byte for byte; what GNU tar writes (its own long-name
// records included), runmesh extracts; a hostile archive (Python's tarfile, zstd CLI) writes
// nothing outside the target. extractArchive tells zip from tar.zst by the first bytes.
import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { selectFiles } from "./artifact-files.ts";
import { extractArchive } from "./extract-archive.ts";
import { extractTarZstd, tarHeader, writeTarZstd } from "./tar-zstd.ts";
import { writeZip } from "./zip-archive.ts";

const root = mkdtempSync(join(tmpdir(), "runmesh-tarzstd-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => {
  const d = join(root, `${name}-${++n}`);
  mkdirSync(d, { recursive: true });
  return d;
};
const LONG = `${"deep-directory-name/".repeat(6)}a-file-name-longer-than-the-ustar-name-field.txt`;

function tree(dir: string): Record<string, string> {
  const sums: Record<string, string> = {};
  const put = (rel: string, data: Buffer) => {
    mkdirSync(join(dir, rel, ".."), { recursive: true });
    writeFileSync(join(dir, rel), data);
    sums[rel] = createHash("sha256").update(data).digest("hex");
  };
  put("a.txt", Buffer.from("hello\n".repeat(1000)));
  put("bin/random.bin", Buffer.from(crypto.getRandomValues(new Uint8Array(70_001))));
  put("empty", Buffer.alloc(0));
  put(LONG, Buffer.from("long name\n"));
  mkdirSync(join(dir, "emptydir"));
  symlinkSync("a.txt", join(dir, "link"));
  return sums;
}

function sumsOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile())
        out[r] = createHash("sha256")
          .update(readFileSync(join(dir, r)))
          .digest("hex");
    }
  };
  walk("");
  return out;
}

describe("tar.zst", () => {
  test("the header checksum is what tar computes (pure)", () => {
    const h = tarHeader({ name: "a.txt", mode: 0o100644, size: 5, mtime: new Date(0), type: "0" });
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    expect(Number.parseInt(h.subarray(148, 154).toString("ascii"), 8)).toBe(sum);
    expect(h.subarray(257, 263).toString("ascii")).toBe("ustar\0");
  });

  test("what runmesh writes, GNU tar lists and extracts byte for byte (long names through PAX)", async () => {
    const src = fresh("src");
    const sums = tree(src);
    const files = (await selectFiles(src, { paths: ["."], exclude: [], untracked: false })).files;
    const out = join(fresh("out"), "cache.tar.zst");
    await writeTarZstd(src, files, out, 5);
    expect(readFileSync(out).subarray(0, 4)).toEqual(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
    const listing = execFileSync("tar", ["--zstd", "-tf", out]).toString();
    expect(listing).toContain(LONG);
    const dst = fresh("gnu");
    execFileSync("tar", ["--zstd", "-xf", out, "-C", dst]);
    expect(sumsOf(dst)).toEqual(sums);
    expect(readlinkSync(join(dst, "link"))).toBe("a.txt");
  });

  test("what GNU tar writes (its long-name records), runmesh extracts, through extractArchive", async () => {
    const src = fresh("src");
    const sums = tree(src);
    const out = join(fresh("out"), "gnu.tar.zst");
    execFileSync("tar", ["--zstd", "--format=gnu", "-cf", out, "-C", src, "."]);
    const dst = fresh("mine");
    const result = await extractArchive(out, dst);
    expect(result.warnings).toEqual([]);
    expect(sumsOf(dst)).toEqual(sums);
    expect(readlinkSync(join(dst, "link"))).toBe("a.txt");
    expect(existsSync(join(dst, "emptydir"))).toBe(true);
  });

  test("entries leaving the dir and symlinks pointing out are refused, nothing written outside", async () => {
    const dir = fresh("evil");
    const tarPath = join(dir, "evil.tar");
    execFileSync("python3", [
      "-c",
      `import tarfile, io
t = tarfile.open(${JSON.stringify(tarPath)}, "w")
def add(name, data):
    i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
add("ok.txt", b"ok")
add("../evil.txt", b"pwned")
add("/abs.txt", b"pwned")
l = tarfile.TarInfo("out"); l.type = tarfile.SYMTYPE; l.linkname = "/etc"; t.addfile(l)
t.close()`,
    ]);
    execFileSync("zstd", ["-q", tarPath, "-o", `${tarPath}.zst`]);
    const parent = fresh("parent");
    const dst = join(parent, "project");
    const result = await extractTarZstd(`${tarPath}.zst`, dst);
    expect(readFileSync(join(dst, "ok.txt"), "utf8")).toBe("ok");
    expect(existsSync(join(parent, "evil.txt"))).toBe(false);
    expect(existsSync(join(dst, "out"))).toBe(false);
    const warnings = result.warnings.join("\n");
    expect(warnings).toContain("../evil.txt: refusing to extract outside");
    expect(warnings).toContain("/abs.txt: refusing to extract outside");
    expect(warnings).toContain("out: symlink to /etc points outside");
  });

  test("extractArchive sends a zip to the zip extractor and refuses gzip", async () => {
    const src = fresh("src");
    const sums = tree(src);
    const zip = join(fresh("out"), "a.zip");
    await writeZip(src, (await selectFiles(src, { paths: ["."], exclude: [], untracked: false })).files, zip);
    const dst = fresh("dst");
    await extractArchive(zip, dst);
    expect(sumsOf(dst)).toEqual(sums);
    const gz = join(fresh("gz"), "a.gz");
    writeFileSync(gz, Buffer.from([0x1f, 0x8b, 8, 0]));
    await expect(extractArchive(gz, fresh("x"))).rejects.toThrow("runmesh extracts zip and tar.zst");
  });
});
