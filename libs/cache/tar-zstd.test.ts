// tar+zstd caches checked against GNU tar and the zstd CLI: what runmesh writes, GNU tar reads
// (names past 100 bytes, symlinks, directories, modes, times); what GNU tar writes, runmesh
// extracts; entries that would leave the project dir are refused; formats told by magic bytes.
import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { archiveFormatOf, extractTarZstd, parsePax, writeTarZstd } from "./tar-zstd.ts";

const root = mkdtempSync(join(tmpdir(), "runmesh-tarzstd-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const LONG = `deep/${"d".repeat(60)}/${"f".repeat(70)}.txt`;
const T = new Date("2020-01-02T03:04:05Z");

function tree(dir: string): string[] {
  mkdirSync(join(dir, LONG, ".."), { recursive: true });
  mkdirSync(join(dir, "bin"), { recursive: true });
  writeFileSync(join(dir, LONG), "long name\n");
  writeFileSync(join(dir, "bin/run"), "#!/bin/sh\necho hi\n");
  chmodSync(join(dir, "bin/run"), 0o755);
  writeFileSync(join(dir, "big"), Buffer.alloc(300_000, 7));
  symlinkSync("bin/run", join(dir, "link"));
  for (const p of [LONG, "bin/run", "big", "bin", "deep", join(LONG, ".."), join(LONG, "../..")])
    utimesSync(join(dir, p), T, T);
  return ["big", "bin", "bin/run", "deep", `deep/${"d".repeat(60)}`, LONG, "link"];
}

describe("tar+zstd cache archives", () => {
  test("GNU tar reads what runmesh writes: long names, modes, symlinks, times", async () => {
    const src = join(root, "src1");
    const files = tree(src);
    const out = join(root, "one.tar.zst");
    await writeTarZstd(src, files, out, 5);
    expect(archiveFormatOf(readFileSync(out).subarray(0, 4))).toBe("tarzstd");
    const listed = execFileSync("tar", ["--zstd", "-tf", out], { encoding: "utf8" }).trim().split("\n");
    expect(listed).toEqual(["big", "bin/", "bin/run", "deep/", `deep/${"d".repeat(60)}/`, LONG, "link"]);
    const dest = join(root, "gnu-out");
    mkdirSync(dest);
    execFileSync("tar", ["--zstd", "-xf", out, "-C", dest]);
    expect(readFileSync(join(dest, LONG), "utf8")).toBe("long name\n");
    expect(lstatSync(join(dest, "bin/run")).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(dest, "link"))).toBe("bin/run");
    expect(readFileSync(join(dest, "big")).equals(Buffer.alloc(300_000, 7))).toBe(true);
    expect(lstatSync(join(dest, LONG)).mtime.getTime()).toBe(T.getTime());
  });

  test("runmesh extracts what GNU tar writes (PAX and GNU long names), times and modes kept", async () => {
    const src = join(root, "src2");
    tree(src);
    for (const format of ["posix", "gnu"]) {
      const out = join(root, `gnu-${format}.tar.zst`);
      execFileSync("tar", [
        `--format=${format}`,
        "--zstd",
        "-cf",
        out,
        "-C",
        src,
        "big",
        "bin",
        "deep",
        "link",
      ]);
      const dest = join(root, `ours-${format}`);
      const { warnings } = await extractTarZstd(out, dest);
      expect(warnings).toEqual([]);
      expect(readFileSync(join(dest, LONG), "utf8")).toBe("long name\n");
      expect(lstatSync(join(dest, "bin/run")).mode & 0o777).toBe(0o755);
      expect(readlinkSync(join(dest, "link"))).toBe("bin/run");
      expect(readFileSync(join(dest, "big")).length).toBe(300_000);
      expect(lstatSync(join(dest, LONG)).mtime.getTime()).toBe(T.getTime());
      expect(lstatSync(join(dest, "bin")).mtime.getTime()).toBe(T.getTime());
    }
  });

  test("an entry leaving the project dir, or a symlink pointing out, is refused; the rest is extracted", async () => {
    const work = join(root, "evil/a/b");
    mkdirSync(work, { recursive: true });
    writeFileSync(join(root, "evil/a/outside"), "x");
    writeFileSync(join(work, "ok"), "ok");
    symlinkSync("/etc/passwd", join(work, "pw"));
    const out = join(root, "evil.tar.zst");
    execFileSync("tar", ["-P", "--zstd", "-cf", out, "-C", work, "ok", "../outside", "pw"]);
    const dest = join(root, "evil-dest/project");
    const { warnings } = await extractTarZstd(out, dest);
    expect(readFileSync(join(dest, "ok"), "utf8")).toBe("ok");
    expect(existsSync(join(dest, "../outside"))).toBe(false);
    expect(existsSync(join(dest, "pw"))).toBe(false);
    expect(warnings).toEqual([
      `../outside: refusing to extract outside ${dest}`,
      `pw: symlink to /etc/passwd points outside ${dest}; not extracted`,
    ]);
  });

  test.each([
    [[0x28, 0xb5, 0x2f, 0xfd], "tarzstd"],
    [[0x1f, 0x8b, 8, 0], "gzip"],
    [[0x50, 0x4b, 3, 4], "zip"],
  ])("magic %p is %p", (bytes, want) => expect(archiveFormatOf(Uint8Array.from(bytes))).toBe(want as "zip"));

  test("PAX records count their own length in bytes", () => {
    expect(parsePax(Buffer.from("17 path=é/x.txt\n19 linkpath=target\n"))).toEqual({
      path: "é/x.txt",
      linkpath: "target",
    });
  });
});
