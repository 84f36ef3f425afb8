// How a job's payload gets from the poller to the worker that claims it. Most payloads ride
// inline in the accepted-job message. A bigger one (a job with a 2 MiB variable) would break
// NATS's max_payload (1 MiB by default) in the handoff, the dispatch and the job record, so it
// waits in a blob store (a JetStream object store, chunked) instead: written once by the poller,
// read once by the claiming worker, deleted when the job ends. Only a name, a size and a key travel.
// A payload holds the job token and variables: nothing here logs it. It is stored encrypted with a
// key of its own, which rides only with the job (the accepted-jobs stream, the dispatch to one
// worker, the sealed job record): every worker may read the store, none can read another's payload.
import type { Bus } from "../bus/bus.ts";
import { newAeadKey, open, seal } from "./aead.ts";
import type { AcceptedJob } from "./subjects.ts";

export const PAYLOADS_STORE = "runmesh-payloads";
/** Up to this size, JSON-escaped, a payload rides inline: a dispatch (job + sealed copy) stays under 1 MiB. */
export const INLINE_PAYLOAD_MAX_BYTES = 128 * 1024;
/** A payload whose job's owners all died is dropped by the store after a day. */
export const PAYLOAD_MAX_AGE_MS = 24 * 60 * 60_000;

const openStore = (bus: Bus) => bus.blobs(PAYLOADS_STORE, { maxAgeMs: PAYLOAD_MAX_AGE_MS });

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/**
 * The job as it is handed off: unchanged when its payload is small, else with the payload moved
 * to the store. Rejects (BlobStoreFullError, a bus error) when the payload cannot be stored.
 */
export async function stowPayload(bus: Bus, job: AcceptedJob): Promise<AcceptedJob> {
  // Measured as it travels, JSON-escaped: a dispatch carries it twice (once in the record's seal).
  if (Buffer.byteLength(JSON.stringify(job.payload)) <= INLINE_PAYLOAD_MAX_BYTES) return job;
  const data = new TextEncoder().encode(job.payload);
  const name = `${job.jobKey}.${job.acceptedAt}`;
  const key = newAeadKey();
  await (await openStore(bus)).put(name, seal(key, data, name));
  return {
    ...job,
    payload: "",
    payloadBlob: { name, bytes: data.byteLength, key: Buffer.from(key).toString("base64") },
  };
}

/** The payload text for the worker, read from the store when it waits there. */
export async function fetchPayload(
  bus: Bus,
  job: AcceptedJob,
): Promise<{ ok: true; payload: string } | { ok: false; error: string }> {
  const blob = job.payloadBlob;
  if (!blob) return { ok: true, payload: job.payload };
  const what = `the job payload (${formatBytes(blob.bytes)}) in the mesh's store "${PAYLOADS_STORE}"`;
  try {
    const stored = await (await openStore(bus)).get(blob.name);
    if (!stored)
      return { ok: false, error: `${what} is gone (expired or deleted) before a worker could read it` };
    const data = blob.key ? open(Buffer.from(blob.key, "base64"), stored, blob.name) : stored;
    if (!data) return { ok: false, error: `${what} does not open with the job's payload key` };
    if (data.byteLength !== blob.bytes)
      return { ok: false, error: `${what} has ${data.byteLength} bytes, ${blob.bytes} were stored` };
    return { ok: true, payload: new TextDecoder().decode(data) };
  } catch (e) {
    return { ok: false, error: `${what} could not be read: ${(e as Error).message}` };
  }
}

/** Deletes a stored payload once its job has ended; errors are the caller's to log. */
export async function discardPayload(bus: Bus, job: Pick<AcceptedJob, "payloadBlob">): Promise<void> {
  if (!job.payloadBlob) return;
  await (await openStore(bus)).delete(job.payloadBlob.name);
}
