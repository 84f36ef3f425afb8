// The distributed cache through presigned URLs, as GitLab Runner's cache-extractor and
// cache-archiver use them (runner-api.md (d) "Restore", "Save"): GET into the local archive unless
// the remote is not newer than it (Last-Modified), a 404 meaning "no such cache"; with an alternate
// naming (FF_HASH_CACHE_KEYS toggled), HEAD both and take the alternate when only it exists or it
// is newer (cache_extractor.go selectPresignedURL); PUT with
// Content-Type application/octet-stream, Last-Modified and the headers the signer returned, 5xx
// retried twice. URLs come from the cache-signer (CacheUrlSource): a worker never holds a key.
// Logged URLs lose their query string, so no signature reaches the job log.
import { createWriteStream, renameSync, statSync, utimesSync } from "node:fs";
import { basename } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export interface SignedUrl {
  url: string;
  headers: Record<string, string>;
}

/** Asks the cache-signer; a string is why it refused (the cache is then local only). */
export interface CacheUrlSource {
  sign(key: string, op: "get" | "head" | "put", hashed?: boolean): Promise<SignedUrl | string>;
  /** MaxUploadedArchiveSize of the runner's cache, in bytes (0: no limit). */
  maxUploadBytes: number;
}

export function publicUrl(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

const RETRIES = 2;

async function withRetries(call: () => Promise<Response>): Promise<Response> {
  let last: Response | undefined;
  let error: unknown;
  for (let attempt = 0; attempt <= RETRIES; attempt++) {
    if (attempt > 0) await Bun.sleep(1000);
    try {
      last = await call();
      if (last.status < 500) return last;
      await last.body?.cancel();
    } catch (e) {
      error = e;
    }
  }
  if (last) return last;
  throw error;
}

export type DownloadOutcome = "downloaded" | "up-to-date" | "missing" | "failed";

/** Fetches the remote archive into `file` (written atomically, mtime = Last-Modified). */
export async function downloadCache(
  signed: SignedUrl,
  file: string,
  timeoutMs: number,
  log: { println(t: string): void; warning(t: string): void },
): Promise<DownloadOutcome> {
  try {
    const res = await withRetries(() =>
      fetch(signed.url, { headers: signed.headers, signal: AbortSignal.timeout(timeoutMs) }),
    );
    if (res.status === 404) {
      await res.body?.cancel();
      log.warning(`${publicUrl(signed.url)}: file does not exist`);
      return "missing";
    }
    if (res.status !== 200 || !res.body) {
      await res.body?.cancel();
      log.warning(`${publicUrl(signed.url)}: received: ${res.status} ${res.statusText}`);
      return "failed";
    }
    const modified = Date.parse(res.headers.get("last-modified") ?? "");
    let localMtime = Number.NaN;
    try {
      localMtime = statSync(file).mtimeMs;
    } catch {}
    if (!Number.isNaN(modified) && !Number.isNaN(localMtime) && modified <= localMtime) {
      await res.body.cancel();
      log.println(`${basename(file)} is up to date`);
      return "up-to-date";
    }
    log.println(`Downloading cache from ${publicUrl(signed.url)}`);
    const tmp = `${file}.${process.pid}.download`;
    await pipeline(Readable.fromWeb(res.body as never), createWriteStream(tmp));
    renameSync(tmp, file);
    if (!Number.isNaN(modified)) utimesSync(file, new Date(), new Date(modified));
    return "downloaded";
  } catch (e) {
    log.warning(`${publicUrl(signed.url)}: ${(e as Error).message}`);
    return "failed";
  }
}

/** Uploads `file`; false (warned) when the server refused it or it is over the size limit. */
export async function uploadCache(
  signed: SignedUrl,
  file: string,
  maxBytes: number,
  timeoutMs: number,
  log: { println(t: string): void; warning(t: string): void },
): Promise<boolean> {
  const st = statSync(file);
  if (maxBytes > 0 && st.size > maxBytes) {
    log.println(
      `Cache archive size (${st.size}) is too big (Limit is set to ${maxBytes}). Cache will be stored only locally.`,
    );
    return false;
  }
  log.println(`Uploading ${basename(file)} to ${publicUrl(signed.url)}`);
  try {
    const res = await withRetries(() =>
      fetch(signed.url, {
        method: "PUT",
        headers: {
          ...signed.headers,
          "Content-Type": "application/octet-stream",
          "Last-Modified": st.mtime.toUTCString(),
          "Content-Length": String(st.size),
        },
        body: Bun.file(file),
        signal: AbortSignal.timeout(timeoutMs),
      }),
    );
    await res.body?.cancel();
    if (res.status >= 200 && res.status < 300) return true;
    log.warning(`${publicUrl(signed.url)}: received: ${res.status} ${res.statusText}`);
    return false;
  } catch (e) {
    log.warning(`${publicUrl(signed.url)}: ${(e as Error).message}`);
    return false;
  }
}

/** What a HEAD says of a cache object: there (with its Last-Modified, ms), absent, or unknown. */
export type HeadResult = { present: true; modified: number } | { present: false };

export async function headCache(signed: SignedUrl, timeoutMs: number): Promise<HeadResult> {
  try {
    const res = await fetch(signed.url, {
      method: "HEAD",
      headers: signed.headers,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    const modified = Date.parse(res.headers.get("last-modified") ?? "");
    return res.status === 200 && !Number.isNaN(modified) ? { present: true, modified } : { present: false };
  } catch {
    return { present: false };
  }
}

/** The alternate only when the primary is absent and it is there, or both are and it is newer. Pure. */
export function pickCacheSource(primary: HeadResult, alternate: HeadResult): "primary" | "alternate" {
  if (!alternate.present) return "primary";
  if (!primary.present) return "alternate";
  return alternate.modified > primary.modified ? "alternate" : "primary";
}
