// Artifact/cache archive speed: a mixed tree (compressible text, random bytes, many small files)
// zipped at each of GitLab's compression levels by runmesh's concurrent writer
// (libs/artifacts/fast-zip.ts, FASTZIP_ARCHIVER_CONCURRENCY = the CPUs) and by a single-threaded
// zip library (yazl, same zlib level), beside Info-ZIP `zip -1`, in the same run; then extracted
// by runmesh (FASTZIP_EXTRACTOR_CONCURRENCY = the CPUs), yauzl one entry at a time and Info-ZIP
// `unzip`. Last, the peak RSS of a child process archiving a generated 2 GiB tree (deleted after),
// which shows the writer streams. Prints MB/s of input, sizes and RSS as Markdown tables.
// Usage: nice -n 10 bun bench/archive.ts [megabytes, default 200] [rss megabytes, default 2048, 0 skips]
//        [rounds, default 3: interleaved, the median is printed]
import { execFileSync, spawnSync } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import * as yazl from "yazl";
import { selectFiles } from "../libs/artifacts/artifact-files.ts";
import { extractZip, writeZip } from "../libs/artifacts/zip-archive.ts";

const LEVELS = [
  ["fastest", 0],
  ["fast", 1],
  ["default", 5],
  ["slow", 7],
  ["slowest", 9],
] as const;

/**
 * Fills `src` with about `mb` MiB: 1 in 10 files 2 MiB, 3 in 10 200 KiB, the rest 4 KiB; source-like
 * text (varied lines, compresses about 5:1) and random bytes (do not compress), about half each.
 */
function generate(src: string, mb: number): number {
  let total = 0;
  const names = ["value", "input", "options", "result", "config", "buffer", "index", "count", "entry"];
  const textOf = (seed: number, size: number) => {
    const lines: string[] = [];
    let n = 0;
    for (let j = 0; n < size; j++) {
      const x = (seed * 7919 + j * 104729) % 1000003;
      const line = `  const ${names[x % 9]}${x % 97} = compute(${names[(x >> 3) % 9]}, ${x}); // step ${j}\n`;
      lines.push(line);
      n += line.length;
    }
    return Buffer.from(lines.join("").slice(0, size));
  };
  for (let i = 0; total < mb * 1024 * 1024; i++) {
    const dir = join(src, `d${i % 40}`);
    mkdirSync(dir, { recursive: true });
    const kind = i % 10;
    const size = kind === 0 ? 2 * 1024 * 1024 : kind < 4 ? 200 * 1024 : 4 * 1024;
    const text = kind === 0 ? Math.floor(i / 10) % 2 === 0 : kind % 2 === 0;
    let body: Buffer;
    if (text) body = textOf(i, size);
    else {
      // Fresh random bytes per file, so nothing compresses.
      body = Buffer.alloc(size);
      for (let o = 0; o < size; o += 65536) crypto.getRandomValues(body.subarray(o, o + 65536));
    }
    writeFileSync(join(dir, `f${i}.${text ? "txt" : "bin"}`), body);
    total += size;
  }
  return total;
}

async function yazlZip(base: string, files: readonly string[], out: string, level: number): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const rel of files) {
    const st = statSync(join(base, rel));
    if (st.isDirectory()) zip.addEmptyDirectory(rel);
    else zip.addFile(join(base, rel), rel, { compress: level > 0, compressionLevel: level });
  }
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(out));
}

// Child mode: archive one tree and print the process's peak RSS (KiB) as the last line.
if (process.argv[2] === "--rss-child") {
  const [, , , src, out, which] = process.argv;
  const list = (await selectFiles(src!, { paths: ["."], exclude: [], untracked: false })).files;
  if (which === "yazl") await yazlZip(src!, list, out!, 5);
  else await writeZip(src!, list, out!, 5);
  console.log(process.resourceUsage().maxRSS);
  process.exit(0);
}

const mb = Number(process.argv[2] ?? 200);
const rssMb = Number(process.argv[3] ?? 2048);
const rounds = Number(process.argv[4] ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const root = mkdtempSync(join(tmpdir(), "runmesh-bench-archive-"));
try {
  const src = join(root, "src");
  const total = generate(src, mb);
  const files = (await selectFiles(src, { paths: ["."], exclude: [], untracked: false })).files;
  const inMb = total / 1024 / 1024;
  const rows: string[] = [];
  const time = async (f: () => Promise<void> | void) => {
    const t = performance.now();
    await f();
    return (performance.now() - t) / 1000;
  };
  const rate = (s: number) => `${(inMb / s).toFixed(1)}`;
  const size = (p: string) => `${(statSync(p).size / 1024 / 1024).toFixed(1)}`;
  const cpus = availableParallelism();
  // Warm-up: loads the zip modules and the page cache before anything is timed.
  await writeZip(src, files, join(root, "warm.zip"), 1);
  await yazlZip(src, files.slice(0, 50), join(root, "warm2.zip"), 1);
  for (const [name, level] of LEVELS) {
    const mine = join(root, `runmesh-${level}.zip`);
    const theirs = join(root, `yazl-${level}.zip`);
    // Interleaved rounds, median of each: the machine is shared, so both see the same load.
    const t: number[][] = [[], [], [], []];
    for (let r = 0; r < rounds; r++) {
      t[0]!.push(await time(() => writeZip(src, files, mine, level)));
      t[1]!.push(await time(() => yazlZip(src, files, theirs, level)));
      const x1 = join(root, "x1");
      const x2 = join(root, "x2");
      t[2]!.push(await time(() => extractZip(mine, x1).then(() => {})));
      t[3]!.push(await time(() => extractZip(mine, x2, { concurrency: 1 }).then(() => {})));
      rmSync(x1, { recursive: true, force: true });
      rmSync(x2, { recursive: true, force: true });
    }
    const [sMine, sYazl, eMine, eSeq] = t.map(median) as [number, number, number, number];
    rows.push(
      `| ${name} (${level}) | ${rate(sMine)} | ${rate(sYazl)} | ${(sYazl / sMine).toFixed(2)}× | ${size(mine)} / ${size(theirs)} | ${rate(eMine)} | ${rate(eSeq)} |`,
    );
    rmSync(theirs, { force: true });
    if (level !== 5) rmSync(mine, { force: true });
  }
  const info = join(root, "info.zip");
  const sInfo = await time(() => {
    execFileSync("zip", ["-q", "-1", "-r", info, "."], { cwd: src });
  });
  const x3 = join(root, "x3");
  const eInfo = await time(() => {
    execFileSync("unzip", ["-q", join(root, "runmesh-5.zip"), "-d", x3]);
  });
  rmSync(x3, { recursive: true, force: true });
  console.log(
    `${inMb.toFixed(0)} MiB in ${files.length} entries, ${cpus} CPUs, median of ${rounds}; MB/s of input (MiB/s)`,
  );
  console.log(
    "| level | runmesh zip | yazl (1 thread) | speed-up | size MiB runmesh / yazl | runmesh extract | yauzl 1-at-a-time |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
  console.log(
    `| Info-ZIP zip -1 | ${rate(sInfo)} | | | ${size(info)} | ${rate(eInfo)} (unzip of default) | |`,
  );
  rmSync(src, { recursive: true, force: true });

  if (rssMb > 0) {
    const big = join(root, "big");
    const bigTotal = generate(big, rssMb);
    const rss = (which: string) => {
      const out = join(root, `big-${which}.zip`);
      const t = performance.now();
      const child = spawnSync(process.execPath, [import.meta.path, "--rss-child", big, out, which], {
        encoding: "utf8",
      });
      const s = (performance.now() - t) / 1000;
      if (child.status !== 0) throw new Error(`${which} child failed: ${child.stderr}`);
      const kib = Number(child.stdout.trim().split("\n").at(-1));
      const line = `| ${which} | ${(bigTotal / 1024 ** 3).toFixed(2)} GiB | ${(kib / 1024).toFixed(0)} MB | ${(bigTotal / 1024 / 1024 / s).toFixed(1)} MB/s | ${size(out)} MiB |`;
      rmSync(out, { force: true });
      return line;
    };
    console.log("\nPeak RSS of a process archiving the tree at level default (5):");
    console.log("| writer | tree | peak RSS | rate | archive |\n|---|---|---|---|---|");
    console.log(rss("runmesh"));
    console.log(rss("yazl"));
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
