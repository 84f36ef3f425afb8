// restore_cache and archive_cache / archive_cache_on_failure, run by the worker: on the project
// dir itself (shell) or on a copy the executor's workspace transfer brings over (docker, ssh:
// libs/executors/workspace-transfer.ts), the archives on the worker's host: runner-api.md (d)
// "Restore" and "Save", in GitLab Runner's words (commands/helpers/cache_{extractor,archiver}.go,
// shells/abstract.go). Keys, fallbacks and policies come from libs/cache; a cache failure is a
// warning, never the job's failure — only an unknown policy fails the restore stage, as in GitLab.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { compressionLevel } from "../artifacts/artifact-upload.ts";
import { cacheNames, parsePolicy, restoreCandidates, sanitizeCacheKey } from "../cache/cache-key.ts";
import {
  adoptAlternateArchive,
  localCacheFile,
  restoreLocalCache,
  saveLocalCache,
} from "../cache/local-cache.ts";
import {
  type CacheUrlSource,
  downloadCache,
  headCache,
  pickCacheSource,
  type SignedUrl,
  uploadCache,
} from "../cache/remote-cache.ts";
import type { WorkspaceTransfer } from "../executors/workspace-transfer.ts";
import { projectSlug } from "./build-dir.ts";
import type { JobLog } from "./job-log.ts";
import type { JobPlan, Placement } from "./job-plan.ts";
import type { JobCache } from "./payload.ts";
import type { Outcome } from "./stage-runner.ts";
import { inSection } from "./stage-section.ts";
import { expandValue, lookupForExpansion } from "./variables.ts";

interface CacheRun {
  plan: JobPlan;
  placed: Placement;
  log: JobLog;
  signal: AbortSignal;
  /** How the worker reaches the project dir (the executor's). */
  workspace: WorkspaceTransfer;
  /** The distributed cache through the cache-signer; absent: local cache only. */
  remote?: CacheUrlSource;
}

/** A fresh staging dir (ARCHIVER_STAGING_DIR or the temp dir), removed after `use`. */
async function staged<T>(run: CacheRun, use: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(variable(run, "ARCHIVER_STAGING_DIR") || tmpdir(), "runmesh-cache-"));
  try {
    return await use(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CACHE_REQUEST_TIMEOUT, minutes (GitLab: 10). */
function requestTimeoutMs(run: CacheRun): number {
  const m = Number(variable(run, "CACHE_REQUEST_TIMEOUT") ?? "");
  return (Number.isFinite(m) && m > 0 ? m : 10) * 60_000;
}

const NO_URL_DOWNLOAD =
  "No URL provided, cache will not be downloaded from shared cache server. Instead a local version of cache will be extracted.";
const NO_URL_UPLOAD =
  "No URL provided, cache will not be uploaded to shared cache server. Cache will be stored only locally.";

/** CACHE_COMPRESSION_FORMAT: tarzstd, or zip (zipzstd entries are written with deflate). */
function cacheFormat(run: CacheRun): "zip" | "tarzstd" {
  const v = (variable(run, "CACHE_COMPRESSION_FORMAT") ?? "").trim().toLowerCase();
  if (v === "zipzstd")
    run.log.warning('CACHE_COMPRESSION_FORMAT "zipzstd": runmesh writes the zip with deflate entries');
  return v === "tarzstd" ? "tarzstd" : "zip";
}

/** FF_HASH_CACHE_KEYS: archives and objects named by the key's hash. */
const hashOn = (run: CacheRun) => run.plan.featureFlags.FF_HASH_CACHE_KEYS === true;

/**
 * The URL to download from: the primary naming's, or the alternate's (the other FF_HASH_CACHE_KEYS
 * naming) when only it exists or it is newer — both checked with HEAD, as the extractor does.
 */
async function downloadSource(run: CacheRun, key: string, primary: SignedUrl): Promise<SignedUrl> {
  const remote = run.remote!;
  const names = cacheNames(key, hashOn(run));
  const alternate = await remote.sign(key, "get", names.alternate.hashed);
  if (typeof alternate === "string") return primary;
  const heads = await Promise.all(
    [names.primary, names.alternate].map(async (n) => {
      const head = await remote.sign(key, "head", n.hashed);
      return typeof head === "string" ? { present: false as const } : headCache(head, requestTimeoutMs(run));
    }),
  );
  return pickCacheSource(heads[0]!, heads[1]!) === "alternate" ? alternate : primary;
}

/** One candidate: from the remote when signed (a remote 404 ends it), else the local archive. */
async function restoreOne(run: CacheRun, key: string): Promise<boolean> {
  const { log } = run;
  const primary = cacheNames(key, hashOn(run)).primary;
  const file = cacheFile(run, primary.name);
  const signed = run.remote ? await run.remote.sign(key, "get", primary.hashed) : undefined;
  if (typeof signed === "string") log.warning(signed);
  if (signed && typeof signed !== "string") {
    mkdirSync(dirname(file), { recursive: true });
    const source = await downloadSource(run, key, signed);
    const got = await downloadCache(source, file, requestTimeoutMs(run), log);
    if (got === "missing") return false;
  } else log.println(NO_URL_DOWNLOAD);
  return staged(run, async (staging) => {
    if (!(await restoreLocalCache(file, run.workspace.importDir(staging), log))) return false;
    try {
      await run.workspace.importTree(staging, run.signal);
      return true;
    } catch (e) {
      log.warning(`${run.placed.projectDir}: ${(e as Error).message}`);
      return false;
    }
  });
}

const wanted = (c: JobCache) => c.paths.length > 0 || c.untracked;

function expander(run: CacheRun) {
  return (value: string) =>
    expandValue(value, (k) => lookupForExpansion(run.placed.variables, run.placed.projectDir, k));
}

function variable(run: CacheRun, key: string): string | undefined {
  return run.placed.variables.findLast((v) => v.key === key)?.value;
}

/** The entry's key, expanded and sanitised; undefined (with the notice logged) when unusable. */
function entryKey(run: CacheRun, entry: JobCache, raw?: string): string | undefined {
  const { job } = run.plan;
  const expanded = expander(run)(raw ?? entry.key) || `${job.job_info.name}/${job.git_info.ref}`;
  // Hashed keys cannot leave their directory: GitLab skips sanitising them.
  if (hashOn(run)) return expanded;
  const s = sanitizeCacheKey(expanded);
  if (!s.ok) {
    run.log.warning(s.notice);
    return undefined;
  }
  if (s.warning) run.log.warning(s.warning);
  return s.key;
}

function cacheFile(run: CacheRun, key: string): string {
  const { job } = run.plan;
  return localCacheFile(
    run.plan.layout.localCacheDir ?? run.plan.layout.cacheDir,
    projectSlug(job.git_info.repo_url, job.job_info.project_id),
    key,
  );
}

export async function restoreCacheStage(run: CacheRun): Promise<Outcome> {
  const entries = run.plan.job.cache.filter(wanted);
  if (entries.length === 0) return { kind: "skipped" };
  return inSection(run, "restore_cache", "Restoring cache", async () => {
    const { log } = run;
    for (const entry of entries) {
      const policy = parsePolicy(expander(run)(entry.policy));
      if (typeof policy === "object")
        return { kind: "error", error: { reason: "script_failure", message: policy.error, exitCode: 1 } };
      const key = entryKey(run, entry);
      if (key === undefined) continue;
      if (policy === "push") {
        log.println(`Not downloading cache ${key} due to policy`);
        continue;
      }
      const fallbacks = entry.fallback_keys
        .map((k) => entryKey(run, entry, k))
        .filter((k) => k !== undefined);
      // CACHE_FALLBACK_KEY is judged as written (expanded), before sanitising.
      const global = expander(run)(variable(run, "CACHE_FALLBACK_KEY") ?? "");
      const candidates = restoreCandidates(key, fallbacks, global);
      for (const w of candidates.warnings) log.warning(w);
      const last = candidates.keys.length - 1;
      if (global !== "" && candidates.keys[last] === global) {
        const sanitized = entryKey(run, entry, global);
        if (sanitized === undefined) candidates.keys.pop();
        else candidates.keys[last] = sanitized;
      }
      for (const candidate of candidates.keys) {
        log.println(`Checking cache for ${candidate}...`);
        if (await restoreOne(run, candidate)) {
          log.println("Successfully extracted cache");
          break;
        }
        log.warning("Failed to extract cache");
      }
    }
    return { kind: "ok" };
  });
}

export async function archiveCacheStage(run: CacheRun, jobFailed: boolean): Promise<Outcome> {
  const entries = run.plan.job.cache.filter((c) => {
    const when = c.when || "on_success";
    return wanted(c) && (when === "always" || when === (jobFailed ? "on_failure" : "on_success"));
  });
  if (entries.length === 0) return { kind: "skipped" };
  const name = jobFailed ? "archive_cache_on_failure" : "archive_cache";
  return inSection(run, name, `Saving cache for ${jobFailed ? "failed" : "successful"} job`, async () => {
    const { log } = run;
    const level = compressionLevel(variable(run, "CACHE_COMPRESSION_LEVEL"));
    const format = cacheFormat(run);
    for (const entry of entries) {
      const policy = parsePolicy(expander(run)(entry.policy));
      if (typeof policy === "object") {
        log.warning(policy.error);
        continue;
      }
      const key = entryKey(run, entry);
      if (key === undefined) continue;
      if (policy === "pull") {
        log.println(`Not uploading cache ${key} due to policy`);
        continue;
      }
      log.println(`Creating cache ${key}...`);
      const names = cacheNames(key, hashOn(run));
      const file = cacheFile(run, names.primary.name);
      adoptAlternateArchive(file, cacheFile(run, names.alternate.name), log);
      const sel = { paths: entry.paths.map(expander(run)), exclude: [], untracked: entry.untracked };
      const saved = await staged(run, async (staging) => {
        try {
          const view = await run.workspace.exportPaths(sel, staging, run.signal);
          return await saveLocalCache(file, view.dir, sel, level, log, view.listUntracked, format);
        } catch (e) {
          log.warning(`${run.placed.projectDir}: ${(e as Error).message}`);
          return "failed" as const;
        }
      });
      if (saved === "failed") {
        log.warning("Failed to create cache");
        continue;
      }
      // Nothing to cache is no failure: the helper warns and exits 0.
      if (saved === "empty") {
        log.println("Created cache");
        continue;
      }
      // An unchanged archive is uploaded only when the primary object is not there yet.
      if (saved === "up-to-date") {
        const head = run.remote ? await run.remote.sign(key, "head", names.primary.hashed) : undefined;
        if (head && typeof head !== "string" && (await headCache(head, requestTimeoutMs(run))).present) {
          log.println("Primary cache already exists remotely, skipping upload");
          log.println("Created cache");
          continue;
        }
        log.println("Primary cache does not exist remotely, uploading existing archive");
      }
      const signed = run.remote ? await run.remote.sign(key, "put", names.primary.hashed) : undefined;
      if (typeof signed === "string") log.warning(signed);
      if (signed && typeof signed !== "string") {
        if (!(await uploadCache(signed, file, run.remote?.maxUploadBytes ?? 0, requestTimeoutMs(run), log))) {
          log.warning("Failed to create cache");
          continue;
        }
      } else log.println(NO_URL_UPLOAD);
      log.println("Created cache");
    }
    return { kind: "ok" };
  });
}
