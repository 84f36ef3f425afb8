// The concurrent zip writer and extractor against real readers: Info-ZIP's `unzip -t` (CRC of
// every entry), `zipinfo` (methods, order) and yauzl; spill-to-scratch, ZIP64 records, store
// for GitLab's "fastest", zstd entries (GitLab Runner's zipzstd), and extraction that never
// writes through a symlink. Info-ZIP is the Debian package the project already uses.
import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
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
import { crc32, zstdCompressSync } from "node:zlib";
import { selectFiles } from "./artifact-files.ts";
import { writeFastZip } from "./fast-zip.ts";
import { extractZip, writeZip } from "./zip-archive.ts";
import {
  centralHeader,
  dosDateTime,
  endRecords,
  localHeader,
  METHOD_ZSTD,
  type ZipEntryRecord,
} from "./zip-records.ts";

const root = mkdtempSync(join(tmpdir(), "runmesh-fastzip-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => {
  const d = join(root, `${name}-${++n}`);
  mkdirSync(d, { recursive: true });
  return d;
};

/** A tree of text, random bytes, an empty file, an empty dir, a nested dir and a symlink. */
function mixedTree(dir: string): Record<string, string> {
  const sums: Record<string, string> = {};
  const put = (rel: string, data: Buffer) => {
    mkdirSync(join(dir, rel, ".."), { recursive: true });
    writeFileSync(join(dir, rel), data);
    sums[rel] = createHash("sha256").update(data).digest("hex");
  };
  for (let i = 0; i < 40; i++)
    put(`src/m${i % 5}/f${i}.txt`, Buffer.from(`line ${i}\n`.repeat(200 + i * 50)));
  put("bin/random.bin", Buffer.from(crypto.getRandomValues(new Uint8Array(60_000))));
  put("bin/big.log", Buffer.from("a log line that repeats and repeats\n".repeat(40_000)));
  put("empty.txt", Buffer.alloc(0));
  mkdirSync(join(dir, "emptydir"));
  symlinkSync("src/m0/f0.txt", join(dir, "link"));
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

const files = async (dir: string) =>
  (await selectFiles(dir, { paths: ["."], exclude: [], untracked: false })).files;
const zipinfo = (zip: string) =>
  execFileSync("zipinfo", ["-v", zip], { maxBuffer: 64 * 1024 * 1024 }).toString();

describe("zip records (pure)", () => {
  const entry: ZipEntryRecord = {
    name: "a/b.txt",
    method: 8,
    crc32: 0x12345678,
    compressedSize: 10,
    uncompressedSize: 20,
    mode: 0o100644,
    mtime: new Date(2024, 5, 15, 13, 45, 31),
    offset: 0,
    isDirectory: false,
  };
  test.each([
    [
      new Date(2024, 5, 15, 13, 45, 31),
      { time: (13 << 11) | (45 << 5) | 15, date: (44 << 9) | (6 << 5) | 15 },
    ],
    [new Date(1970, 0, 1), { time: 0, date: (1 << 5) | 1 }],
  ])("dosDateTime(%p)", (d, want) => expect(dosDateTime(d)).toEqual(want));

  test("a small entry has 32-bit sizes and no ZIP64 extra; forcing ZIP64 puts 0xffffffff and the extra", () => {
    const plain = localHeader(entry);
    expect(plain.readUInt32LE(18)).toBe(10);
    expect(plain.readUInt16LE(4)).toBe(20);
    const forced = localHeader(entry, true);
    expect(forced.readUInt32LE(18)).toBe(0xffffffff);
    expect(forced.readUInt16LE(4)).toBe(45);
    const nameEnd = 30 + "a/b.txt".length;
    expect(forced.readUInt16LE(nameEnd)).toBe(0x0001);
    expect(forced.readBigUInt64LE(nameEnd + 4)).toBe(20n);
    expect(forced.readBigUInt64LE(nameEnd + 12)).toBe(10n);
  });

  test("an offset past 4 GiB needs ZIP64 in the central header only; 65535 entries need a ZIP64 end", () => {
    const far = { ...entry, offset: 5 * 1024 ** 3 };
    expect(localHeader(far).readUInt32LE(18)).toBe(10);
    const c = centralHeader(far);
    expect(c.readUInt32LE(42)).toBe(0xffffffff);
    expect(c.readBigUInt64LE(46 + "a/b.txt".length + 4 + 16)).toBe(BigInt(5 * 1024 ** 3));
    expect(endRecords(10, 100, 50).length).toBe(22);
    expect(endRecords(70_000, 100, 50).readUInt32LE(0)).toBe(0x06064b50);
  });

  test("the central header says Unix and carries the mode; directories get the DOS dir bit", () => {
    const c = centralHeader({ ...entry, mode: 0o40755, isDirectory: true, name: "d/" });
    expect(c.readUInt16LE(4) >> 8).toBe(3);
    expect(c.readUInt32LE(38) >>> 16).toBe(0o40755);
    expect(c.readUInt32LE(38) & 0x10).toBe(0x10);
  });
});

describe("fast zip writer", () => {
  test("concurrent archive passes unzip -t, extracts byte-identical with unzip and with yauzl, keeps the given order in the central directory", async () => {
    const src = fresh("src");
    const sums = mixedTree(src);
    const list = await files(src);
    const zip = join(fresh("out"), "a.zip");
    await writeFastZip(src, list, zip, { level: 5, concurrency: 4, bufferSize: 16 * 1024 });
    expect(execFileSync("unzip", ["-t", zip]).toString()).toContain("No errors detected");
    // The central directory lists entries in the order given (zipinfo -1 reads it).
    const names = execFileSync("zipinfo", ["-1", zip]).toString().trim().split("\n");
    expect(names).toEqual(list.map((f) => (lstatSync(join(src, f)).isDirectory() ? `${f}/` : f)));
    const byUnzip = fresh("unzip");
    execFileSync("unzip", ["-q", zip, "-d", byUnzip]);
    expect(sumsOf(byUnzip)).toEqual(sums);
    const byYauzl = fresh("yauzl");
    const result = await extractZip(zip, byYauzl, { concurrency: 3 });
    expect(result.warnings).toEqual([]);
    expect(sumsOf(byYauzl)).toEqual(sums);
    expect(readlinkSync(join(byYauzl, "link"))).toBe("src/m0/f0.txt");
    expect(existsSync(join(byYauzl, "emptydir"))).toBe(true);
  });

  test("files larger than the buffer go through scratch space in the staging dir, which is emptied after", async () => {
    const src = fresh("spill");
    const sums = mixedTree(src);
    const scratch = fresh("scratch");
    const zip = join(fresh("out"), "s.zip");
    // bufferSize 0: every byte of every file goes through a scratch file (GitLab: a valid choice).
    await writeFastZip(src, await files(src), zip, {
      level: 1,
      concurrency: 2,
      bufferSize: 0,
      scratchDir: scratch,
    });
    expect(readdirSync(scratch)).toEqual([]);
    expect(execFileSync("unzip", ["-t", zip]).toString()).toContain("No errors detected");
    const dst = fresh("dst");
    await extractZip(zip, dst);
    expect(sumsOf(dst)).toEqual(sums);
  });

  test("level 0 (ARTIFACT_COMPRESSION_LEVEL=fastest) stores every entry; level 9 deflates", async () => {
    const src = fresh("levels");
    mixedTree(src);
    const list = await files(src);
    const stored = join(fresh("out"), "0.zip");
    await writeZip(src, list, stored, 0);
    const info = zipinfo(stored);
    expect(/compression method: +deflated/.test(info)).toBe(false);
    expect(/compression method: +none \(stored\)/.test(info)).toBe(true);
    const deflated = join(fresh("out"), "9.zip");
    await writeZip(src, list, deflated, 9);
    expect(/compression method: +deflated/.test(zipinfo(deflated))).toBe(true);
    expect(readFileSync(deflated).length).toBeLessThan(readFileSync(stored).length / 2);
  });

  test("stored files larger than the buffer are copied from the file itself, not through scratch", async () => {
    const src = fresh("store-big");
    const sums = mixedTree(src);
    const scratch = fresh("scratch");
    const zip = join(fresh("out"), "st.zip");
    await writeFastZip(src, await files(src), zip, {
      level: 0,
      concurrency: 3,
      bufferSize: 1024,
      scratchDir: scratch,
    });
    expect(readdirSync(scratch)).toEqual([]);
    expect(execFileSync("unzip", ["-t", zip]).toString()).toContain("No errors detected");
    const dst = fresh("dst");
    await extractZip(zip, dst);
    expect(sumsOf(dst)).toEqual(sums);
  });

  test("ZIP64 records (forced on a small tree) are read by unzip -t and yauzl", async () => {
    const src = fresh("z64");
    const sums = mixedTree(src);
    const zip = join(fresh("out"), "z64.zip");
    await writeFastZip(src, await files(src), zip, { level: 5, concurrency: 2, forceZip64: true });
    expect(execFileSync("unzip", ["-t", zip]).toString()).toContain("No errors detected");
    expect(zipinfo(zip).includes("PKWARE 64-bit sizes")).toBe(true);
    // The ZIP64 end of central directory record and its locator are there.
    expect(readFileSync(zip).includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true);
    const dst = fresh("dst");
    await extractZip(zip, dst);
    expect(sumsOf(dst)).toEqual(sums);
  });

  test("a file that vanishes fails the archive and leaves no scratch behind", async () => {
    const src = fresh("gone");
    writeFileSync(join(src, "a.txt"), "a");
    const scratch = fresh("scratch");
    await expect(
      writeFastZip(src, ["a.txt", "missing.txt"], join(fresh("out"), "x.zip"), { scratchDir: scratch }),
    ).rejects.toThrow("missing.txt");
    expect(readdirSync(scratch)).toEqual([]);
  });
});

describe("extraction", () => {
  test("zstd entries (method 93, GitLab Runner's zipzstd) are decompressed", async () => {
    const data = Buffer.from("zstd compressed artifact content\n".repeat(500));
    const packed = zstdCompressSync(data);
    const record: ZipEntryRecord = {
      name: "z.txt",
      method: METHOD_ZSTD,
      crc32: crc32(data),
      compressedSize: packed.length,
      uncompressedSize: data.length,
      mode: 0o100644,
      mtime: new Date(),
      offset: 0,
      isDirectory: false,
    };
    const local = localHeader(record);
    const central = centralHeader(record);
    const zip = join(fresh("zstd"), "z.zip");
    writeFileSync(
      zip,
      Buffer.concat([local, packed, central, endRecords(1, local.length + packed.length, central.length)]),
    );
    const dst = fresh("dst");
    await extractZip(zip, dst);
    expect(readFileSync(join(dst, "z.txt"))).toEqual(data);
  });

  test("a symlink already in the project dir pointing out is replaced, never written through; a dir symlink leading out is refused", async () => {
    const src = fresh("src");
    writeFileSync(join(src, "a.txt"), "from the archive");
    mkdirSync(join(src, "d"));
    writeFileSync(join(src, "d/b.txt"), "b");
    const zip = join(fresh("out"), "l.zip");
    await writeZip(src, ["a.txt", "d", "d/b.txt"], zip);
    const outside = fresh("outside");
    writeFileSync(join(outside, "victim.txt"), "untouched");
    const dst = fresh("dst");
    symlinkSync(join(outside, "victim.txt"), join(dst, "a.txt"));
    symlinkSync(outside, join(dst, "d"));
    const result = await extractZip(zip, dst);
    expect(readFileSync(join(outside, "victim.txt"), "utf8")).toBe("untouched");
    expect(existsSync(join(outside, "b.txt"))).toBe(false);
    expect(readFileSync(join(dst, "a.txt"), "utf8")).toBe("from the archive");
    expect(result.warnings.join("\n")).toContain("d/b.txt: its directory leads outside");
  });
});
