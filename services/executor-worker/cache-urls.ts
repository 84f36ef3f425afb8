// The worker's side of the cache-signer: for a job whose runner entry has an S3, GCS or Azure cache, cache
// stages get their URLs by asking the signer on this worker's own subject (cacheSignRpcOf) with its id and
// the job's key; the worker never sees a storage credential. A refusal or a silent signer leaves
// the cache local-only for that key, with the reason in the job log, as GitLab Runner does when it
// has no URL.
import type { Bus } from "../../libs/bus/bus.ts";
import type { CacheUrlSource } from "../../libs/cache/remote-cache.ts";
import { type AcceptedJob, cacheSignRpcOf } from "../../libs/messages/subjects.ts";

const SIGNED_TYPES = new Set(["s3", "s3v2", "gcs", "gcsv2", "azure"]);

export function cacheUrlsVia(bus: Bus, workerId: string) {
  const rpc = cacheSignRpcOf(workerId);
  return (job: AcceptedJob): CacheUrlSource | undefined => {
    const cache = job.runner.cache;
    if (!cache || !SIGNED_TYPES.has((cache.Type ?? "").toLowerCase())) return undefined;
    return {
      maxUploadBytes: cache.MaxUploadedArchiveSize ?? 0,
      async sign(key, op, hashed) {
        try {
          const req = { workerId, jobKey: job.jobKey, key, op, ...(hashed ? { hashed } : {}) };
          const r = await bus.request(rpc, req, { timeoutMs: 10_000 });
          if (r.ok && r.url) return { url: r.url, headers: r.headers ?? {} };
          return `cache-signer refused ${op.toUpperCase()} for cache key ${JSON.stringify(key)}: ${r.reason ?? "no reason given"}; the cache stays local`;
        } catch (e) {
          return `cache-signer did not answer for cache key ${JSON.stringify(key)} (${(e as Error).message}); the cache stays local`;
        }
      },
    };
  };
}
