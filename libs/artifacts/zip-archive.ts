// Zip archives for artifacts (and the cache): yazl writes, yauzl reads, both streaming so a large
// tree is never held in memory (ecosystem.md: the fastest pair that works in a compiled binary).
// Extraction skips, with a warning, any entry that would land outside the target dir (`../`, absolute names,
// symlinks pointing out), as GitLab Runner's extractor does.
import { createWriteStream, lstatSync, mkdirSync, readlinkSync, symlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type * as yauzl from "yauzl";
import { insideProject } from "./artifact-files.ts";

// Loaded with the first archive: yazl, yauzl and node:stream add about 15 MB to a worker's idle
// RSS (bench/binaries.ts), and most workers sit idle between jobs with artifacts.
let zipModules:
  | Promise<[typeof import("yazl"), typeof import("yauzl"), typeof import("node:stream/promises")]>
  | undefined;
const zipLibraries = () =>
  (zipModules ??= Promise.all([import("yazl"), import("yauzl"), import("node:stream/promises")]));

const S_IFLNK = 0o120000;

/** Writes `files` (relative to `baseDir`) into a zip at `outPath`; level 0–9 (GitLab: fastest=1). */
export async function writeZip(
  baseDir: string,
  files: readonly string[],
  outPath: string,
  compressionLevel = 6,
): Promise<void> {
  const [yazl, , { pipeline }] = await zipLibraries();
  const zip = new yazl.ZipFile();
  for (const rel of files) {
    const abs = join(baseDir, rel);
    const st = lstatSync(abs);
    const mtime = st.mtime;
    if (st.isSymbolicLink()) {
      zip.addBuffer(Buffer.from(readlinkSync(abs)), rel, { mode: S_IFLNK | 0o777, mtime, compress: false });
    } else if (st.isDirectory()) {
      zip.addEmptyDirectory(rel, { mode: st.mode, mtime });
    } else {
      zip.addFile(abs, rel, { mode: st.mode, mtime, compressionLevel });
    }
  }
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(outPath));
}

export interface ExtractResult {
  entries: number;
  warnings: string[];
}

/** Extracts a zip into `destDir`, refusing entries that would leave it. */
export async function extractZip(zipPath: string, destDir: string): Promise<ExtractResult> {
  const root = resolve(destDir);
  const [, yauzlModule, { pipeline }] = await zipLibraries();
  const zip = await new Promise<yauzl.ZipFile>((ok, fail) =>
    yauzlModule.open(zipPath, { lazyEntries: true, autoClose: true, decodeStrings: false }, (e, z) =>
      e ? fail(e) : ok(z),
    ),
  );
  const warnings: string[] = [];
  let entries = 0;
  await new Promise<void>((done, fail) => {
    zip.on("error", fail);
    zip.on("end", () => done());
    zip.on("entry", (entry: yauzl.Entry) => {
      const step = async (): Promise<void> => {
        // Names are checked here, not by yauzl (which would reject the whole archive for one bad name).
        const name = Buffer.from(entry.fileName as unknown as Uint8Array)
          .toString("utf8")
          .replaceAll("\\", "/");
        const rel = insideProject(name);
        if (rel === undefined || rel === ".") {
          warnings.push(`${name}: refusing to extract outside ${destDir}`);
          return;
        }
        const abs = join(root, rel);
        const mode = (entry.externalFileAttributes >>> 16) & 0xffff;
        mkdirSync(dirname(abs), { recursive: true });
        if (name.endsWith("/")) {
          mkdirSync(abs, { recursive: true });
        } else if ((mode & 0o170000) === S_IFLNK) {
          const target = await new Response(await streamOf(zip, entry)).text();
          const resolved = resolve(dirname(abs), target);
          if (resolved !== root && !resolved.startsWith(`${root}/`)) {
            warnings.push(`${name}: symlink to ${target} points outside ${destDir}; not extracted`);
            return;
          }
          try {
            lstatSync(abs);
            warnings.push(`${name}: already exists; not replaced by a symlink`);
            return;
          } catch {}
          symlinkSync(target, abs);
        } else {
          await pipeline(await streamOf(zip, entry), createWriteStream(abs, { mode: mode & 0o777 || 0o644 }));
        }
        entries += 1;
      };
      step().then(() => zip.readEntry(), fail);
    });
    zip.readEntry();
  });
  return { entries, warnings };
}

function streamOf(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<NodeJS.ReadableStream> {
  return new Promise((ok, fail) => zip.openReadStream(entry, (e, s) => (e ? fail(e) : ok(s))));
}
