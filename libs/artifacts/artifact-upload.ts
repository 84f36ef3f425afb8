// One artifacts entry from the project dir to GitLab, as GitLab Runner's artifacts-uploader
// does it: select the files, add the attestation file when asked (zip only), archive them in the
// entry's format (zip, gzip, raw), upload with the job's token, metered when
// TRANSFER_METER_FREQUENCY is set. "No files to upload" is an error line, not a failure; a failed
// upload is.
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { selectFiles } from "./artifact-files.ts";
import { uploadArtifact } from "./artifacts-client.ts";
import { type AttestationInputs, writeAttestation } from "./attestation.ts";
import type { FastZipOptions } from "./fast-zip.ts";
import { writeZip } from "./zip-archive.ts";

export { compressionLevel } from "./archive-settings.ts";

/** Where transfer stages write: the job log (JobLog fits). */
export interface TransferLog {
  println(text: string): void;
  warning(text: string): void;
  error(text: string): void;
  /** Raw text (the transfer meter's `\r` lines); JobLog has it. */
  raw?(text: string): void;
}

export interface ArtifactEntry {
  name: string;
  untracked: boolean;
  paths: readonly string[];
  exclude: readonly string[];
  artifact_type: string;
  artifact_format: string;
  expire_in: string;
}

export interface UploadContext {
  baseUrl: string;
  jobId: number;
  token: string;
  projectDir: string;
  /** `untracked` from elsewhere than git in `projectDir` (a copy of a remote project dir). */
  listUntracked?: () => Promise<string[]>;
  log: TransferLog;
  /** ARCHIVER_STAGING_DIR, when the job sets it. */
  stagingDir?: string;
  /** ARTIFACT_COMPRESSION_LEVEL mapped to zlib (fastest 0 = store … slowest 9). */
  compressionLevel?: number;
  /** FASTZIP_ARCHIVER_CONCURRENCY / _BUFFER_SIZE (archive-settings.ts). */
  zip?: Partial<Omit<FastZipOptions, "level">>;
  /** TRANSFER_METER_FREQUENCY in ms; 0 or absent: no meter. */
  meterFrequencyMs?: number;
  /** RUNNER_GENERATE_ARTIFACTS_METADATA: what the statement says; absent: no statement. */
  attestation?: AttestationInputs;
  signal?: AbortSignal;
  retryDelayMs?: (retry: number) => number;
}

/** The archive's file name: `<name>.zip`, `<name>.gz`, or the one file's own name for raw. */
export function archiveFileName(entry: ArtifactEntry, rawFile?: string): string {
  const name = entry.name || "default";
  if (entry.artifact_format === "gzip") return `${name}.gz`;
  if (entry.artifact_format === "raw") return rawFile?.split("/").pop() ?? name;
  return `${name}.zip`;
}

/** Uploads one entry; undefined on success (or nothing to upload), else the failure message. */
export async function uploadEntry(ctx: UploadContext, entry: ArtifactEntry): Promise<string | undefined> {
  const { log } = ctx;
  const selected = await selectFiles(ctx.projectDir, entry, ctx.listUntracked);
  for (const w of selected.warnings) log.warning(w);
  for (const l of selected.lines) log.println(l);
  const files = [...selected.files];
  if (files.length === 0) {
    log.error("No files to upload");
    return undefined;
  }
  const format = entry.artifact_format || "zip";
  const staging = mkdtempSync(join(ctx.stagingDir || tmpdir(), "runmesh-artifacts-"));
  try {
    let path: string;
    let fileName: string;
    if (format === "raw") {
      const regular = files.filter((f) => !files.some((g) => g.startsWith(`${f}/`)));
      if (regular.length !== 1)
        return `artifacts "${entry.name || "default"}": format raw takes exactly one file, found ${regular.length}`;
      path = join(ctx.projectDir, regular[0]!);
      fileName = archiveFileName(entry, regular[0]);
    } else if (format === "gzip") {
      fileName = archiveFileName(entry);
      path = join(staging, fileName);
      // Several files become concatenated gzip members, as GitLab Runner writes them.
      const out = createWriteStream(path);
      // node:zlib is loaded for gzip artifacts only: it adds about 10 MB to an idle worker's RSS.
      const { createGzip } = await import("node:zlib");
      for (const f of files.filter((f) => !files.some((g) => g.startsWith(`${f}/`))))
        await pipeline(
          createReadStream(join(ctx.projectDir, f)),
          createGzip({ level: ctx.compressionLevel }),
          out,
          {
            end: false,
          },
        );
      await new Promise<void>((ok, fail) => out.end((e?: Error | null) => (e ? fail(e) : ok())));
    } else if (format === "zip") {
      fileName = archiveFileName(entry);
      path = join(staging, fileName);
      if (ctx.attestation) {
        log.println("Generating artifacts metadata");
        const metadata = await writeAttestation(ctx.projectDir, files, entry.name, {
          ...ctx.attestation,
          endedAt: new Date(),
        });
        if (!files.includes(metadata)) files.push(metadata);
      }
      await writeZip(ctx.projectDir, files, path, ctx.compressionLevel, {
        scratchDir: ctx.stagingDir || tmpdir(),
        ...ctx.zip,
      });
    } else {
      return `artifacts "${entry.name || "default"}": unsupported artifact_format ${JSON.stringify(format)} (runmesh writes zip, gzip and raw)`;
    }
    const result = await uploadArtifact({
      baseUrl: ctx.baseUrl,
      jobId: ctx.jobId,
      token: ctx.token,
      filePath: path,
      fileName,
      expireIn: entry.expire_in,
      artifactFormat: entry.artifact_format,
      artifactType: entry.artifact_type,
      signal: ctx.signal,
      retryDelayMs: ctx.retryDelayMs,
      meter: ctx.meterFrequencyMs
        ? { out: log.raw ? { raw: log.raw.bind(log) } : undefined, frequencyMs: ctx.meterFrequencyMs }
        : undefined,
    });
    for (const l of result.lines) (result.ok ? log.println : log.warning).call(log, l);
    return result.ok ? undefined : result.error;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
