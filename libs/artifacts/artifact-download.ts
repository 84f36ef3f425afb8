// A dependency's artifacts from GitLab into the project dir, as GitLab Runner's
// artifacts-downloader does it: its own token, direct_download on the first try, the archive
// type from its magic bytes, extracted without ever writing outside the project dir. Like GitLab
// Runner's artifacts-downloader, only zip archives are extracted (their entries deflate, store or
// zstd: the zipzstd format), FASTZIP_EXTRACTOR_CONCURRENCY entries at a time.
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TransferLog } from "./artifact-upload.ts";
import { downloadArtifact } from "./artifacts-client.ts";
import { extractZip } from "./zip-archive.ts";

export interface Dependency {
  id: number;
  token: string;
  name: string;
}

export interface DownloadContext {
  baseUrl: string;
  projectDir: string;
  log: TransferLog;
  /** FF_USE_DIRECT_DOWNLOAD (default on). */
  directDownload: boolean;
  stagingDir?: string;
  signal?: AbortSignal;
  retryDelayMs?: number;
  /** TRANSFER_METER_FREQUENCY in ms; 0 or absent: no meter. */
  meterFrequencyMs?: number;
  /** FASTZIP_EXTRACTOR_CONCURRENCY. */
  extractConcurrency?: number;
}

/** zip, gzip or zstd, from the first bytes. */
export function archiveKind(head: Uint8Array): "zip" | "gzip" | "zstd" {
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  return "zip";
}

/** Downloads and extracts one dependency; undefined on success, else the failure message. */
export async function downloadDependency(ctx: DownloadContext, dep: Dependency): Promise<string | undefined> {
  const { log } = ctx;
  log.println(`Downloading artifacts for ${dep.name} (${dep.id})...`);
  const staging = mkdtempSync(join(ctx.stagingDir || tmpdir(), "runmesh-artifacts-"));
  try {
    const file = join(staging, "artifacts");
    const result = await downloadArtifact({
      baseUrl: ctx.baseUrl,
      jobId: dep.id,
      token: dep.token,
      outPath: file,
      directDownload: ctx.directDownload,
      signal: ctx.signal,
      retryDelayMs: ctx.retryDelayMs,
      meter: ctx.meterFrequencyMs
        ? { out: log.raw ? { raw: log.raw.bind(log) } : undefined, frequencyMs: ctx.meterFrequencyMs }
        : undefined,
    });
    for (const l of result.lines) (result.ok ? log.println : log.warning).call(log, l);
    if (!result.ok) return `${result.error} (dependency ${dep.name})`;
    const head = new Uint8Array(4);
    const fd = openSync(file, "r");
    readSync(fd, head, 0, 4, 0);
    closeSync(fd);
    const kind = archiveKind(head);
    if (kind !== "zip")
      return `artifacts of ${dep.name} (${dep.id}) are a ${kind} archive; runmesh extracts zip archives only`;
    const extracted = await extractZip(file, ctx.projectDir, { concurrency: ctx.extractConcurrency });
    for (const w of extracted.warnings) log.warning(w);
    return undefined;
  } catch (e) {
    return `artifacts of ${dep.name} (${dep.id}): ${(e as Error).message}`;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
