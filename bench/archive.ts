// Artifact/cache archive speed: a mixed tree (compressible text, random bytes, many small files)
// zipped by runmesh's archiver (yazl, libs/artifacts/zip-archive.ts) at each compression level and
// extracted by yauzl, beside Info-ZIP `zip -1` / `unzip` in the same run. Prints MB/s and sizes.
// Usage: bun bench/archive.ts [megabytes, default 200]
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { selectFiles } from "../libs/artifacts/artifact-files.ts";
import { extractZip, writeZip } from "../libs/artifacts/zip-archive.ts";

const mb = Number(process.argv[2] ?? 200);
const root = mkdtempSync(join(tmpdir(), "runmesh-bench-archive-"));
const src = join(root, "src");
let total = 0;
const words = "const value = compute(input, options); // a line of source code\n";
for (let i = 0; total < mb * 1024 * 1024; i++) {
  const dir = join(src, `d${i % 40}`);
  mkdirSync(dir, { recursive: true });
  const kind = i % 10;
  const size = kind === 0 ? 2 * 1024 * 1024 : kind < 4 ? 200 * 1024 : 4 * 1024;
  const data =
    kind % 2 === 0
      ? Buffer.from(words.repeat(Math.ceil(size / words.length)).slice(0, size))
      : Buffer.from(crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)))).subarray(0, size);
  const body =
    data.length < size
      ? Buffer.concat(Array(Math.ceil(size / data.length)).fill(data)).subarray(0, size)
      : data;
  writeFileSync(join(dir, `f${i}.${kind % 2 === 0 ? "txt" : "bin"}`), body);
  total += size;
}
const files = (await selectFiles(src, { paths: ["."], exclude: [], untracked: false })).files;
const inMb = total / 1024 / 1024;
const rows: string[] = [];
const time = async (label: string, out: string, f: () => Promise<void> | void) => {
  const t = performance.now();
  await f();
  const s = (performance.now() - t) / 1000;
  const size = out ? `${(statSync(out).size / 1024 / 1024).toFixed(1)} MiB` : "";
  rows.push(`| ${label} | ${s.toFixed(2)} s | ${(inMb / s).toFixed(1)} MB/s | ${size} |`);
};
for (const level of [1, 6, 9]) {
  const out = join(root, `l${level}.zip`);
  await time(`runmesh zip (yazl) level ${level}`, out, () => writeZip(src, files, out, level));
}
await time("Info-ZIP zip -1 -r", join(root, "info.zip"), () => {
  execFileSync("zip", ["-q", "-1", "-r", join(root, "info.zip"), "."], { cwd: src });
});
const dst = join(root, "dst");
await time("runmesh extract (yauzl) of level 6", "", async () => {
  mkdirSync(dst);
  await extractZip(join(root, "l6.zip"), dst);
});
const dst2 = join(root, "dst2");
await time("Info-ZIP unzip of level 6", "", () => {
  execFileSync("unzip", ["-q", join(root, "l6.zip"), "-d", dst2]);
});
console.log(
  `${inMb.toFixed(0)} MiB in ${files.length} entries; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
);
console.log("| what | time | input MB/s | archive |\n|---|---|---|---|");
for (const r of rows) console.log(r);
rmSync(root, { recursive: true, force: true });
