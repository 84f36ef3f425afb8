// One entry point for archives coming back (dependencies, cache restores): the kind from the
// first bytes, as GitLab Runner's extractors tell zip from its tarzstd cache format. gzip
// archives are GitLab's report format (concatenated members), never extracted by GitLab Runner.
import { closeSync, openSync, readSync } from "node:fs";
import { archiveKind } from "./artifact-download.ts";
import { extractTarZstd } from "./tar-zstd.ts";
import { type ExtractOptions, type ExtractResult, extractZip } from "./zip-archive.ts";

/** Extracts a zip or tar.zst into `destDir` (see extractZip / extractTarZstd for the refusals). */
export async function extractArchive(
  file: string,
  destDir: string,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  const head = new Uint8Array(4);
  const fd = openSync(file, "r");
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  const kind = archiveKind(head);
  if (kind === "zstd") return extractTarZstd(file, destDir);
  if (kind === "gzip") throw new Error(`${file}: a gzip archive; runmesh extracts zip and tar.zst archives`);
  return extractZip(file, destDir, options);
}
