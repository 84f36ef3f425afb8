// The local cache archive (runner-api.md (d); GitLab Runner's cache-archiver / cache-extractor
// without a URL): `<cache_dir>/<project path>/<key>/cache.zip`. Saving selects the entry's paths
// and untracked files like artifacts do; an archive no older than every selected file is left as
// it is (fileArchiver.isFileChanged), otherwise the zip is written beside the old one and renamed
// into place, so a reader never sees half an archive; restoring extracts into the project dir.
// The archive is a zip, or tar+zstd with CACHE_COMPRESSION_FORMAT=tarzstd; it is always named
// cache.zip and extraction tells the format by its first bytes, as the helper does.
// Messages in the helper's words (commands/helpers/cache_{archiver,extractor}.go).
import { existsSync, lstatSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { type FileSelection, selectFiles } from "../artifacts/artifact-files.ts";
import { extractArchive } from "../artifacts/extract-archive.ts";
import { writeTarZstd } from "../artifacts/tar-zstd.ts";
import { writeZip } from "../artifacts/zip-archive.ts";

export function localCacheFile(cacheDir: string, projectPath: string, key: string): string {
  return join(cacheDir, projectPath, key, "cache.zip");
}

export interface CacheLog {
  println(text: string): void;
  warning(text: string): void;
}

/** Whether an archive written at `archiveMtimeMs` still holds files of these mtimes. Pure. */
export function archiveUpToDate(archiveMtimeMs: number, fileMtimesMs: readonly number[]): boolean {
  return fileMtimesMs.every((m) => m <= archiveMtimeMs);
}

/**
 * The archive under the other naming (FF_HASH_CACHE_KEYS toggled) becomes the primary one when
 * the primary does not exist yet (cache_archiver.go tryRenameAlternateFile).
 */
export function adoptAlternateArchive(file: string, alternate: string, log: CacheLog): void {
  if (alternate === file || existsSync(file) || !existsSync(alternate)) return;
  try {
    mkdirSync(join(file, ".."), { recursive: true });
    renameSync(alternate, file);
    log.println("Renamed alternate cache file to primary");
  } catch (e) {
    log.warning(`Failed to rename alternate cache file to primary: ${(e as Error).message}`);
  }
}

/**
 * created: a new archive was written; up-to-date: the existing one already holds the files;
 * empty: nothing matched ("No files to cache.", not a failure); failed: warned.
 */
export type SaveOutcome = "created" | "up-to-date" | "empty" | "failed";

export async function saveLocalCache(
  file: string,
  projectDir: string,
  sel: FileSelection,
  level: number,
  log: CacheLog,
  /** `untracked` from elsewhere than git in `projectDir` (a copy of a remote project dir). */
  listUntracked?: () => Promise<string[]>,
  format: "zip" | "tarzstd" = "zip",
): Promise<SaveOutcome> {
  const selected = await selectFiles(projectDir, sel, listUntracked);
  for (const w of selected.warnings) log.warning(w);
  for (const l of selected.lines) log.println(l);
  if (selected.files.length === 0) {
    log.warning("No files to cache.");
    return "empty";
  }
  const archiveMtime = existsSync(file) ? statSync(file).mtimeMs : undefined;
  if (
    archiveMtime !== undefined &&
    archiveUpToDate(
      archiveMtime,
      selected.files.map((f) => lstatSync(join(projectDir, f)).mtimeMs),
    )
  )
    return "up-to-date";
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    mkdirSync(join(file, ".."), { recursive: true });
    if (format === "tarzstd") await writeTarZstd(projectDir, selected.files, tmp, level);
    else await writeZip(projectDir, selected.files, tmp, level);
    renameSync(tmp, file);
    return "created";
  } catch (e) {
    rmSync(tmp, { force: true });
    log.warning(`${file}: ${(e as Error).message}`);
    return "failed";
  }
}

/** Extracts the archive; false (warned) when it is missing or broken. */
export async function restoreLocalCache(file: string, projectDir: string, log: CacheLog): Promise<boolean> {
  if (!existsSync(file)) {
    log.warning("Cache file does not exist");
    return false;
  }
  try {
    // zip or tar.zst, told by the first bytes; a gzip archive is refused (it throws).
    const result = await extractArchive(file, projectDir);
    for (const w of result.warnings) log.warning(w);
    return true;
  } catch (e) {
    log.warning(`${file}: ${(e as Error).message}`);
    return false;
  }
}
