// Zip archives for artifacts and the cache. Writing: fast-zip.ts, files compressed concurrently
// (GitLab Runner's fastzip: FASTZIP_ARCHIVER_CONCURRENCY / _BUFFER_SIZE, scratch space in
// ARCHIVER_STAGING_DIR), streaming so a large tree is never held in memory. Reading: yauzl, with
// FASTZIP_EXTRACTOR_CONCURRENCY entries inflated at once (a zip's entries can be read in any
// order), deflate, store and zstd (method 93, GitLab Runner's zipzstd) entries.
// Extraction skips, with a warning, any entry that would land outside the target dir (`../`, absolute names,
// symlinks pointing out, a parent directory that is a symlink leading out), as GitLab Runner's
// extractor does; symlinks are made last, so no entry is ever written through one from the archive.
import {
  createWriteStream,
  lstatSync,
  mkdirSync,
  realpathSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
} from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import type * as yauzl from "yauzl";
import { insideProject } from "./artifact-files.ts";
import type { FastZipOptions } from "./fast-zip.ts";
import { METHOD_ZSTD } from "./zip-records.ts";

// Loaded with the first archive: yauzl, zlib and node:stream add about 15 MB to a worker's idle
// RSS (bench/binaries.ts), and most workers sit idle between jobs with artifacts.
let zipModules:
  | Promise<
      [
        typeof import("./fast-zip.ts"),
        typeof import("yauzl"),
        typeof import("node:stream/promises"),
        typeof import("node:zlib"),
      ]
    >
  | undefined;
const zipLibraries = () =>
  (zipModules ??= Promise.all([
    import("./fast-zip.ts"),
    import("yauzl"),
    import("node:stream/promises"),
    import("node:zlib"),
  ]));

const S_IFLNK = 0o120000;

/**
 * Writes `files` (relative to `baseDir`) into a zip at `outPath`; level 0–9, 0 stores (see
 * compressionLevel). `options` carries the FASTZIP_* knobs and the scratch dir.
 */
export async function writeZip(
  baseDir: string,
  files: readonly string[],
  outPath: string,
  compressionLevel = 5,
  options: Partial<Omit<FastZipOptions, "level">> = {},
): Promise<void> {
  const [{ writeFastZip }] = await zipLibraries();
  await writeFastZip(baseDir, files, outPath, { ...options, level: compressionLevel });
}

export interface ExtractResult {
  entries: number;
  warnings: string[];
}

export interface ExtractOptions {
  /** FASTZIP_EXTRACTOR_CONCURRENCY: entries inflated at once (default: the CPUs). */
  concurrency?: number;
}

type Zlib = typeof import("node:zlib");

/** Extracts a zip into `destDir`, refusing entries that would leave it. */
export async function extractZip(
  zipPath: string,
  destDir: string,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  const root = resolve(destDir);
  mkdirSync(root, { recursive: true });
  const realRoot = realpathSync(root);
  const [, yauzlModule, { pipeline }, zlib] = await zipLibraries();
  const zip = await new Promise<yauzl.ZipFile>((ok, fail) =>
    yauzlModule.open(zipPath, { lazyEntries: true, autoClose: false, decodeStrings: false }, (e, z) =>
      e ? fail(e) : ok(z),
    ),
  );
  const warnings: string[] = [];
  let entries = 0;
  try {
    const all = await readEntries(zip);
    const files: { entry: yauzl.Entry; name: string; abs: string; mode: number }[] = [];
    const dirs: { abs: string; entry: yauzl.Entry }[] = [];
    const links: typeof files = [];
    for (const entry of all) {
      // Names are checked here, not by yauzl (which would reject the whole archive for one bad name).
      const name = Buffer.from(entry.fileName as unknown as Uint8Array)
        .toString("utf8")
        .replaceAll("\\", "/");
      const rel = insideProject(name);
      if (rel === undefined || rel === ".") {
        warnings.push(`${name}: refusing to extract outside ${destDir}`);
        continue;
      }
      const abs = join(root, rel);
      const mode = (entry.externalFileAttributes >>> 16) & 0xffff;
      if (name.endsWith("/")) {
        if (parentInside(abs, realRoot, name, destDir, warnings)) {
          mkdirSync(abs, { recursive: true });
          dirs.push({ abs, entry });
          entries += 1;
        }
      } else if ((mode & 0o170000) === S_IFLNK) links.push({ entry, name, abs, mode });
      else files.push({ entry, name, abs, mode });
    }
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const { entry, name, abs, mode } = files[next++]!;
        if (!parentInside(abs, realRoot, name, destDir, warnings)) continue;
        // An existing file (or a symlink from the checkout) is replaced, never written through.
        try {
          if (!lstatSync(abs).isDirectory()) unlinkSync(abs);
        } catch {}
        await pipeline(
          await streamOf(zip, entry, zlib),
          createWriteStream(abs, { mode: mode & 0o777 || 0o644 }),
        );
        // Modification times as archived (GitLab's extractor does too): the cache archiver
        // compares them with its archive to tell an unchanged cache.
        const modified = entry.getLastModDate();
        utimesSync(abs, modified, modified);
        entries += 1;
      }
    };
    const n = Math.max(1, Math.floor(options.concurrency ?? availableParallelism()) || 1);
    await Promise.all(Array.from({ length: Math.min(n, files.length) }, worker));
    for (const { entry, name, abs } of links) {
      if (!parentInside(abs, realRoot, name, destDir, warnings)) continue;
      const target = await new Response((await streamOf(zip, entry, zlib)) as never).text();
      const resolved = resolve(dirname(abs), target);
      if (resolved !== root && !resolved.startsWith(`${root}/`)) {
        warnings.push(`${name}: symlink to ${target} points outside ${destDir}; not extracted`);
        continue;
      }
      try {
        lstatSync(abs);
        warnings.push(`${name}: already exists; not replaced by a symlink`);
        continue;
      } catch {}
      symlinkSync(target, abs);
      entries += 1;
    }
    // Last, deepest first: writing into a directory changes its time.
    for (const { abs, entry } of dirs.reverse())
      utimesSync(abs, entry.getLastModDate(), entry.getLastModDate());
  } finally {
    zip.close();
  }
  return { entries, warnings };
}

/** Creates the entry's parent dir; false (warned) when it resolves outside the root through a symlink. */
export function parentInside(
  abs: string,
  realRoot: string,
  name: string,
  destDir: string,
  warnings: string[],
): boolean {
  const parent = dirname(abs);
  mkdirSync(parent, { recursive: true });
  const real = realpathSync(parent);
  if (real === realRoot || real.startsWith(`${realRoot}/`)) return true;
  warnings.push(`${name}: its directory leads outside ${destDir} through a symlink; not extracted`);
  return false;
}

function readEntries(zip: yauzl.ZipFile): Promise<yauzl.Entry[]> {
  const out: yauzl.Entry[] = [];
  return new Promise((done, fail) => {
    zip.on("error", fail);
    zip.on("end", () => done(out));
    zip.on("entry", (entry: yauzl.Entry) => {
      out.push(entry);
      zip.readEntry();
    });
    zip.readEntry();
  });
}

function streamOf(zip: yauzl.ZipFile, entry: yauzl.Entry, zlib: Zlib): Promise<NodeJS.ReadableStream> {
  // yauzl inflates deflate and passes store; zstd (method 93) comes raw and is decompressed here.
  const zstd = entry.compressionMethod === METHOD_ZSTD;
  return new Promise((ok, fail) =>
    zip.openReadStream(entry, zstd ? { decodeFileData: false } : {}, (e, s) => {
      if (e) return fail(e);
      ok(zstd ? s.pipe(zlib.createZstdDecompress()) : s);
    }),
  );
}
