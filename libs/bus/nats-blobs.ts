// A blob store on NATS: a JetStream object store (@nats-io/obj), which cuts an object into
// 128 KiB chunks on one stream, so objects far beyond the server's max_payload (1 MiB by default)
// travel. A put that fails leaves no chunks behind (the client purges them).
import { JetStreamApiError, StorageType } from "@nats-io/jetstream";
import type { ObjectStore, Objm } from "@nats-io/obj";
import { nanos } from "@nats-io/transport-node";
import type { BlobStore, BlobStoreOptions } from "./bus.ts";
import { BlobStoreFullError } from "./bus.ts";
import { assertBlobName } from "./store-names.ts";

/** JetStream's answers when a stream or the account has no room left. */
const NO_ROOM_CODES = new Set([10023, 10047, 10077, 10028]);
const NO_ROOM_TEXT = /maximum bytes|insufficient (storage|resources)|exceeded/i;

export async function openNatsBlobStore(
  objm: Objm,
  name: string,
  opts: BlobStoreOptions,
  ensureOpen: (op: string) => void,
): Promise<BlobStore> {
  const os: ObjectStore = await objm.create(name, {
    storage: StorageType.File,
    ...(opts.maxAgeMs !== undefined ? { ttl: nanos(opts.maxAgeMs) } : {}),
    ...(opts.maxBytes !== undefined ? { max_bytes: opts.maxBytes } : {}),
  });
  return {
    async put(objectName, data) {
      ensureOpen("blob put");
      assertBlobName(name, objectName);
      try {
        await os.putBlob({ name: objectName }, data);
      } catch (err) {
        const e = err as Error;
        const noRoom =
          (err instanceof JetStreamApiError && NO_ROOM_CODES.has(err.code)) || NO_ROOM_TEXT.test(e.message);
        if (noRoom) throw new BlobStoreFullError(name, objectName, data.byteLength, e.message);
        throw err;
      }
    },
    async get(objectName) {
      ensureOpen("blob get");
      assertBlobName(name, objectName);
      return (await os.getBlob(objectName)) ?? undefined;
    },
    async delete(objectName) {
      ensureOpen("blob delete");
      assertBlobName(name, objectName);
      await os.delete(objectName);
    },
  };
}
