// The local cache archive (runner-api.md (d); GitLab Runner's cache-archiver / cache-extractor
// without a URL): `<cache_dir>/<project path>/<key>/cache.zip`. Saving selects the entry's paths
// and untracked files like artifacts do and writes the zip beside the old one before renaming it
// into place, so a reader never sees half an archive; restoring extracts into the project dir.
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type FileSelection, selectFiles } from "../artifacts/artifact-files.ts";
import { extractZip, writeZip } from "../artifacts/zip-archive.ts";

export function localCacheFile(cacheDir: string, projectPath: string, key: string): string {
  return join(cacheDir, projectPath, key, "cache.zip");
}

export interface CacheLog {
  println(text: string): void;
  warning(text: string): void;
}

/** Writes the archive; false when there was nothing to archive or writing failed (warned). */
export async function saveLocalCache(
  file: string,
  projectDir: string,
  sel: FileSelection,
  level: number,
  log: CacheLog,
  /** `untracked` from elsewhere than git in `projectDir` (a copy of a remote project dir). */
  listUntracked?: () => Promise<string[]>,
): Promise<boolean> {
  const selected = await selectFiles(projectDir, sel, listUntracked);
  for (const w of selected.warnings) log.warning(w);
  for (const l of selected.lines) log.println(l);
  if (selected.files.length === 0) {
    log.warning("No files to archive.");
    return false;
  }
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    mkdirSync(join(file, ".."), { recursive: true });
    await writeZip(projectDir, selected.files, tmp, level);
    renameSync(tmp, file);
    return true;
  } catch (e) {
    rmSync(tmp, { force: true });
    log.warning(`${file}: ${(e as Error).message}`);
    return false;
  }
}

/** Extracts the archive; false (warned) when it is missing or broken. */
export async function restoreLocalCache(file: string, projectDir: string, log: CacheLog): Promise<boolean> {
  if (!existsSync(file)) {
    log.warning(`${file}: no such file or directory`);
    return false;
  }
  try {
    const result = await extractZip(file, projectDir);
    for (const w of result.warnings) log.warning(w);
    return true;
  } catch (e) {
    log.warning(`${file}: ${(e as Error).message}`);
    return false;
  }
}
