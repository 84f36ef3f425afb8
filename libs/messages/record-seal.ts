// A job's record in the jobs KV (JOBS_BUCKET) is written by the worker that claims the job, by
// compare-and-set, so every worker's NATS identity may read and write that bucket: JetStream has
// no per-key read permission, and which worker claims which job is decided at run time. A record
// therefore carries the job's secrets (job token, payload with its variables, the stored
// payload's key) sealed — AES-256-GCM under the records key, bound to the job key — and only a
// redacted job in clear. The scheduler seals the job for the worker it dispatches to; the worker
// stores the seal unchanged; the scheduler (failing a lost worker's jobs, also after its own
// restart) and the cache-signer (which worker runs which job) open it. A worker can neither read
// another job's secrets nor forge a record that a job runs on it.
//
// The records key lives in its own KV bucket (KEYS_BUCKET) that only the scheduler and the
// cache-signer may read (deploy/nats/identities.conf); the scheduler creates it on its first
// start. On disk it is under JetStream's encryption at rest, like everything the mesh stores.
import { z } from "zod";
import type { Bus, KvBucket } from "../bus/bus.ts";
import { KvConflictError } from "../bus/bus.ts";
import { newAeadKey, open, seal } from "./aead.ts";
import {
  type AcceptedJob,
  acceptedJobSchema,
  JOBS_BUCKET,
  type JobRecord,
  jobRecordSchema,
  type OpenedJobRecord,
  type RedactedJob,
} from "./subjects.ts";

export const KEYS_BUCKET = "runmesh-keys";
const RECORDS_KEY = "records";
const keySchema = z.object({ key: z.string() });
const sealedSchema = z.object({ workerId: z.string(), job: acceptedJobSchema });

/**
 * The mesh's records key; with `create`, made on first use (the scheduler). Undefined when it does
 * not exist yet and `create` is off (a cache-signer before any scheduler ever dispatched).
 */
export async function recordsKey(bus: Bus, o: { create: boolean }): Promise<Uint8Array | undefined> {
  const kv = await bus.kv(KEYS_BUCKET, keySchema);
  const found = await kv.get(RECORDS_KEY);
  if (found) return Buffer.from(found.value.key, "base64");
  if (!o.create) return undefined;
  try {
    await kv.create(RECORDS_KEY, { key: Buffer.from(newAeadKey()).toString("base64") });
  } catch (e) {
    if (!(e instanceof KvConflictError)) throw e; // another scheduler made it first: use theirs
  }
  const made = await kv.get(RECORDS_KEY);
  if (!made) throw new Error(`the records key in KV bucket ${KEYS_BUCKET} vanished right after it was made`);
  return Buffer.from(made.value.key, "base64");
}

/** What stays readable in a record: who and when, without token, payload, payload key, settings or seal. */
export function redactJob(job: AcceptedJob): RedactedJob {
  return {
    jobKey: job.jobKey,
    gitlabUrl: job.gitlabUrl,
    runnerKey: job.runnerKey,
    runnerName: job.runnerName,
    jobId: job.jobId,
    timeoutS: job.timeoutS,
    systemId: job.systemId,
    leaseId: job.leaseId,
    workerId: job.workerId,
    pollerId: job.pollerId,
    acceptedAt: job.acceptedAt,
    ...(job.payloadBlob ? { payloadBlob: { name: job.payloadBlob.name, bytes: job.payloadBlob.bytes } } : {}),
  };
}

/** The job sealed for its record, naming the worker it is dispatched to. */
export function sealJob(key: Uint8Array, workerId: string, job: AcceptedJob): string {
  const { sealed: _, ...whole } = job;
  const plain = new TextEncoder().encode(JSON.stringify({ workerId, job: whole }));
  return Buffer.from(seal(key, plain, job.jobKey)).toString("base64");
}

/** The job and its worker from a record, or undefined when the seal is not the scheduler's for this key. */
export function openRecord(
  key: Uint8Array,
  jobKey: string,
  record: Pick<JobRecord, "sealed">,
): { workerId: string; job: AcceptedJob } | undefined {
  const plain = open(key, Buffer.from(record.sealed, "base64"), jobKey);
  if (!plain) return undefined;
  const parsed = sealedSchema.safeParse(JSON.parse(new TextDecoder().decode(plain)));
  return parsed.success ? parsed.data : undefined;
}

/** The record a worker writes for a job dispatched to it: the scheduler's seal, the rest redacted. */
export function jobRecord(job: AcceptedJob, fields: Omit<JobRecord, "job" | "sealed">): JobRecord {
  return { ...fields, job: redactJob(job), sealed: job.sealed ?? "" };
}

/** A record as it is stored after the scheduler's dispatch: for tests and tools that write one directly. */
export function sealRecord(key: Uint8Array, record: Omit<OpenedJobRecord, "sealed">): JobRecord {
  return { ...record, job: redactJob(record.job), sealed: sealJob(key, record.workerId, record.job) };
}

/**
 * Reads job records as the scheduler sealed them, for the tiers that decide on them (cache-signer,
 * autoscaler): the opened record, undefined when the job has none, or why it cannot be trusted.
 * The bucket and the records key are opened at first use: the scheduler makes both, and these
 * tiers' NATS identities may only read them.
 */
export function openedRecords(bus: Bus): (jobKey: string) => Promise<OpenedJobRecord | string | undefined> {
  let jobs: Promise<KvBucket<typeof jobRecordSchema>> | undefined;
  let key: Uint8Array | undefined;
  return async (jobKey) => {
    let entry: Awaited<ReturnType<KvBucket<typeof jobRecordSchema>["get"]>>;
    try {
      if (!jobs) {
        const opening = bus.kv(JOBS_BUCKET, jobRecordSchema);
        opening.catch(() => {
          if (jobs === opening) jobs = undefined; // the next lookup tries again
        });
        jobs = opening;
      }
      entry = await (await jobs).get(jobKey);
      if (entry) key ??= await recordsKey(bus, { create: false });
    } catch (e) {
      return `the scheduler's job records cannot be read (${(e as Error).message}); is the scheduler running?`;
    }
    if (!entry) return undefined;
    const opened = key && openRecord(key, jobKey, entry.value);
    if (!opened) return "the job's record is not sealed by this mesh's scheduler";
    return { ...entry.value, workerId: opened.workerId, job: opened.job };
  };
}
