// The job variables that tune archiving and transfers, read once per stage (GitLab Runner docs
// "Artifact and cache settings", "Configure fastzip", "Staging directory", "Artifact
// attestation"): compression level names, the FASTZIP_* knobs, ARCHIVER_STAGING_DIR,
// TRANSFER_METER_FREQUENCY and RUNNER_GENERATE_ARTIFACTS_METADATA. A value that does not parse
// gives a warning naming the variable and what was expected, and the default is used.
import { availableParallelism, tmpdir } from "node:os";
import { parseGoDuration } from "../config/go-duration.ts";
import type { FastZipOptions } from "./fast-zip.ts";

/** GitLab Runner's fastzip levels (zip_fastzip_archiver.go flateLevels): fastest stores. */
const LEVELS: Record<string, number> = { fastest: 0, fast: 1, default: 5, slow: 7, slowest: 9 };

/** ARTIFACT_COMPRESSION_LEVEL / CACHE_COMPRESSION_LEVEL → a zlib level; unknown ⇒ default (5). */
export function compressionLevel(value: string | undefined): number {
  return LEVELS[(value ?? "").trim().toLowerCase()] ?? 5;
}

export interface ArchiveSettings {
  /** The writer's options, without the level (which differs for artifacts and cache). */
  zip: Omit<FastZipOptions, "level">;
  extractConcurrency: number;
  /** ARCHIVER_STAGING_DIR, when set: downloads and scratch space go there. */
  stagingDir?: string;
  /** TRANSFER_METER_FREQUENCY in ms; 0 = no meter. */
  meterFrequencyMs: number;
  generateMetadata: boolean;
  warnings: string[];
}

const TRUE = new Set(["1", "t", "true"]);

function count(
  key: string,
  value: string | undefined,
  fallback: number,
  min: number,
  warnings: string[],
): number {
  if (value === undefined || value.trim() === "") return fallback;
  const n = Number(value.trim());
  if (Number.isInteger(n) && n >= min) return n;
  warnings.push(`${key}: expected an integer ≥ ${min}, got ${JSON.stringify(value)}; using ${fallback}`);
  return fallback;
}

/** Reads the settings from the job's variables (`lookup` returns the last value of a key). */
export function archiveSettings(lookup: (key: string) => string | undefined): ArchiveSettings {
  const warnings: string[] = [];
  const cpus = availableParallelism();
  const stagingDir = lookup("ARCHIVER_STAGING_DIR") || undefined;
  let meterFrequencyMs = 0;
  const meter = lookup("TRANSFER_METER_FREQUENCY")?.trim();
  if (meter) {
    try {
      meterFrequencyMs = Math.max(0, parseGoDuration(meter));
    } catch {
      warnings.push(
        `TRANSFER_METER_FREQUENCY: expected a duration like 2s or 1m30s, got ${JSON.stringify(meter)}; the meter is off`,
      );
    }
  }
  return {
    zip: {
      concurrency: count(
        "FASTZIP_ARCHIVER_CONCURRENCY",
        lookup("FASTZIP_ARCHIVER_CONCURRENCY"),
        cpus,
        1,
        warnings,
      ),
      bufferSize: count(
        "FASTZIP_ARCHIVER_BUFFER_SIZE",
        lookup("FASTZIP_ARCHIVER_BUFFER_SIZE"),
        2 * 1024 * 1024,
        0,
        warnings,
      ),
      scratchDir: stagingDir ?? tmpdir(),
      forceZip64: false,
    },
    extractConcurrency: count(
      "FASTZIP_EXTRACTOR_CONCURRENCY",
      lookup("FASTZIP_EXTRACTOR_CONCURRENCY"),
      cpus,
      1,
      warnings,
    ),
    stagingDir,
    meterFrequencyMs,
    generateMetadata: TRUE.has((lookup("RUNNER_GENERATE_ARTIFACTS_METADATA") ?? "").trim().toLowerCase()),
    warnings,
  };
}
