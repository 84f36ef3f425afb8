// The cache-signer tier (DESIGN.md "The tiers"): the only process that holds object-storage
// credentials. It answers every worker's own cache-sign subject (cacheSignRpcs) in a queue group,
// takes the asking worker from that subject (only its NATS identity may publish there), opens the
// job's sealed record from the scheduler's JOBS_BUCKET (record-seal.ts: the worker a job runs on
// cannot be forged by a worker), and signs what sign-decision.ts allows; a refusal is logged with
// the job, worker and key, never a credential, and answered with the reason.
import type { Bus, Subscription } from "../../libs/bus/bus.ts";
import type { Logger } from "../../libs/log/logger.ts";
import { fetchPayload } from "../../libs/messages/payload-handover.ts";
import { openedRecords } from "../../libs/messages/record-seal.ts";
import {
  CACHE_SIGNER_QUEUE,
  cacheSignRpcs,
  type OpenedJobRecord,
  workerFromSubject,
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
  const readRecord = openedRecords(o.bus);
  const now = o.now ?? (() => new Date());
  let caches = o.caches;
  /** The record as the scheduler sealed it (whole job, its worker), or why it cannot be trusted. */
  const sealedRecord = async (jobKey: string): Promise<OpenedJobRecord | string | undefined> => {
    const opened = await readRecord(jobKey);
    if (typeof opened !== "object") return opened;
    let job = opened.job;
    // A payload too big for messages waits in the mesh's store; the cache keys are in it.
    if (job.payloadBlob) {
      const p = await fetchPayload(o.bus, job);
      if (p.ok) job = { ...job, payload: p.payload, payloadBlob: undefined };
    }
    return { ...opened, job };
  };
  const sub: Subscription = await o.bus.serve(
    cacheSignRpcs,
    async ({ data, subject }) => {
      const asker = workerFromSubject(subject);
      const req = { ...data, workerId: asker };
      const found =
        data.workerId === asker
          ? await sealedRecord(req.jobKey)
          : `worker ${JSON.stringify(asker)} asked naming worker ${JSON.stringify(data.workerId)}`;
      const record = typeof found === "string" ? undefined : found;
      const decision: ReturnType<typeof decideSign> =
        typeof found === "string"
          ? { ok: false, reason: `job ${req.jobKey}, worker ${JSON.stringify(asker)}: ${found}` }
          : decideSign({
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
