// A KV bucket on NATS (JetStream KV): revisions are the stream sequence, compare-and-set is the
// expected-last-subject-sequence header, and a CAS failure becomes KvConflictError.
import { JetStreamApiError } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { z } from "zod";
import type { KvBucket } from "./bus.ts";
import { KvConflictError } from "./bus.ts";
import { decodeMessage, encodeMessage } from "./envelope.ts";
import { assertRevision } from "./inproc-kv.ts";
import { assertKvKey } from "./store-names.ts";

const WRONG_LAST_SEQUENCE = new Set([10071, 10164]);

export function natsBucket<S extends z.ZodType>(
  bucket: string,
  kv: KV,
  schema: S,
  ensureOpen: (op: string) => void,
): KvBucket<S> {
  const where = (key: string) => `kv ${bucket}/${key}`;
  const encode = (key: string, value: unknown) => {
    ensureOpen("kv write");
    assertKvKey(bucket, key);
    return encodeMessage(where(key), schema, value);
  };
  const conflicts = async <T>(key: string, detail: string, op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (err) {
      if (err instanceof JetStreamApiError && WRONG_LAST_SEQUENCE.has(err.code)) {
        throw new KvConflictError(bucket, key, `${detail} (${err.message})`);
      }
      throw err;
    }
  };
  return {
    async get(key) {
      ensureOpen("kv get");
      assertKvKey(bucket, key);
      const entry = await kv.get(key);
      if (entry?.operation !== "PUT") return undefined;
      return { key, value: decodeMessage(where(key), schema, entry.string()), revision: entry.revision };
    },
    async create(key, value) {
      const raw = encode(key, value);
      return conflicts(key, "already exists; read it and update", () => kv.create(key, raw));
    },
    async update(key, value, revision) {
      const raw = encode(key, value);
      assertRevision(bucket, key, revision);
      return conflicts(key, `expected revision ${revision}; read it again and retry`, () =>
        kv.update(key, raw, revision),
      );
    },
    async put(key, value) {
      return kv.put(key, encode(key, value));
    },
    async delete(key, revision) {
      ensureOpen("kv delete");
      assertKvKey(bucket, key);
      await conflicts(key, `expected revision ${revision}; read it again and retry`, () =>
        kv.delete(key, revision !== undefined ? { previousSeq: revision } : undefined),
      );
    },
    async keys() {
      ensureOpen("kv keys");
      const out: string[] = [];
      for await (const key of await kv.keys()) out.push(key);
      return out;
    },
  };
}
