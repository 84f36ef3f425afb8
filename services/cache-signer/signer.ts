// The cache-signer tier (DESIGN.md "The tiers"): the only process that holds object-storage
// credentials. It answers cacheSignRpc in a queue group, reads the job's record from the
// scheduler's JOBS_BUCKET, and signs what sign-decision.ts allows; a refusal is logged with the
// job, worker and key, never a credential, and answered with the reason.
import type { Bus, Subscription } from "../../libs/bus/bus.ts";
import type { Logger } from "../../libs/log/logger.ts";
import { fetchPayload } from "../../libs/messages/payload-handover.ts";
import {
  CACHE_SIGNER_QUEUE,
  cacheSignRpc,
  JOBS_BUCKET,
  jobRecordSchema,
} from "../../libs/messages/subjects.ts";
import { decideSign, type SignerCache } from "./sign-decision.ts";

export interface CacheSignerOptions {
  bus: Bus;
  logger: Logger;
  /** Each runner entry's [runners.cache], by its short token (never the full token). */
  caches: ReadonlyMap<string, SignerCache>;
  /** STORAGE_EMULATOR_HOST for GCS; default: the process environment's. */
  emulatorHost?: string;
  now?: () => Date;
}

export interface CacheSigner {
  /** A reloaded config.toml's caches: the next request is signed with them. */
  reload(caches: ReadonlyMap<string, SignerCache>): void;
  stop(): Promise<void>;
}

export async function startCacheSigner(o: CacheSignerOptions): Promise<CacheSigner> {
  const jobs = await o.bus.kv(JOBS_BUCKET, jobRecordSchema);
  const now = o.now ?? (() => new Date());
  let caches = o.caches;
  const sub: Subscription = await o.bus.serve(
    cacheSignRpc,
    async ({ data: req }) => {
      let record = (await jobs.get(req.jobKey))?.value;
      // A payload too big for messages waits in the mesh's store; the cache keys are in it.
      if (record?.job.payloadBlob) {
        const p = await fetchPayload(o.bus, record.job);
        if (p.ok) record = { ...record, job: { ...record.job, payload: p.payload, payloadBlob: undefined } };
      }
      const decision = decideSign({
        req,
        record,
        cacheFor: (t) => caches.get(t),
        now: now(),
        emulatorHost: o.emulatorHost ?? process.env.STORAGE_EMULATOR_HOST,
      });
      const fields = {
        jobKey: req.jobKey,
        jobId: record?.job.jobId,
        workerId: req.workerId,
        key: req.key,
        op: req.op,
      };
      if (!decision.ok) {
        o.logger.warn({ ...fields, reason: decision.reason }, "cache URL refused");
        return { ok: false, reason: decision.reason };
      }
      o.logger.info({ ...fields, object: decision.objectName }, "cache URL signed");
      return { ok: true, url: decision.url, headers: decision.headers };
    },
    { queue: CACHE_SIGNER_QUEUE },
  );
  o.logger.info({ runners: o.caches.size }, "cache-signer serving");
  return {
    reload(next) {
      caches = next;
      o.logger.info({ runners: next.size }, "cache-signer: caches reloaded");
    },
    async stop() {
      await sub.unsubscribe();
    },
  };
}
