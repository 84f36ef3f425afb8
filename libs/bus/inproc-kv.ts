// KV buckets of the in-process bus: revisions are per bucket and monotonic like a JetStream
// stream's sequence, delete leaves a marker with its own revision, and values are stored as
// JSON envelopes so every reader gets its own copy.
import type { z } from "zod";
import type { KvBucket, KvEntry } from "./bus.ts";
import { KvConflictError } from "./bus.ts";
import { decodeMessage, encodeMessage } from "./envelope.ts";
import { assertKvKey } from "./store-names.ts";

interface Slot {
  /** Undefined after a delete: the marker keeps the revision for compare-and-set. */
  raw: string | undefined;
  revision: number;
}

export class InprocKvStore {
  private revision = 0;
  private readonly slots = new Map<string, Slot>();

  constructor(readonly bucket: string) {}

  get(key: string): { raw: string; revision: number } | undefined {
    const slot = this.slots.get(key);
    return slot?.raw === undefined ? undefined : { raw: slot.raw, revision: slot.revision };
  }

  create(key: string, raw: string): number {
    const slot = this.slots.get(key);
    if (slot?.raw !== undefined) {
      throw new KvConflictError(
        this.bucket,
        key,
        `already exists at revision ${slot.revision}; read it and update`,
      );
    }
    return this.write(key, raw);
  }

  update(key: string, raw: string, revision: number): number {
    assertRevision(this.bucket, key, revision);
    this.expectRevision(key, revision);
    return this.write(key, raw);
  }

  put(key: string, raw: string): number {
    return this.write(key, raw);
  }

  delete(key: string, revision?: number): void {
    if (revision !== undefined) this.expectRevision(key, revision);
    this.write(key, undefined);
  }

  keys(): string[] {
    return [...this.slots].filter(([, slot]) => slot.raw !== undefined).map(([key]) => key);
  }

  private expectRevision(key: string, revision: number): void {
    const current = this.slots.get(key)?.revision ?? 0;
    if (current !== revision) {
      throw new KvConflictError(
        this.bucket,
        key,
        `expected revision ${revision} but the key is at ${current}; read it again and retry`,
      );
    }
  }

  private write(key: string, raw: string | undefined): number {
    this.revision += 1;
    this.slots.set(key, { raw, revision: this.revision });
    return this.revision;
  }
}

/** NATS refuses revision 0 in update (it means "create"); refuse it here too. */
export function assertRevision(bucket: string, key: string, revision: number): void {
  if (!Number.isInteger(revision) || revision < 1) {
    throw new Error(
      `kv ${bucket}/${key}: update needs the revision read from get (>= 1), got ${revision}; use create for a new key`,
    );
  }
}

/** The typed view a service gets: schema checks on write and on read. */
export function inprocBucket<S extends z.ZodType>(
  store: InprocKvStore,
  schema: S,
  ensureOpen: (op: string) => void,
): KvBucket<S> {
  const where = (key: string) => `kv ${store.bucket}/${key}`;
  const encode = (key: string, value: unknown) => {
    ensureOpen("kv write");
    assertKvKey(store.bucket, key);
    return encodeMessage(where(key), schema, value);
  };
  return {
    async get(key) {
      ensureOpen("kv get");
      assertKvKey(store.bucket, key);
      const slot = store.get(key);
      if (!slot) return undefined;
      const entry: KvEntry<z.output<S>> = {
        key,
        value: decodeMessage(where(key), schema, slot.raw),
        revision: slot.revision,
      };
      return entry;
    },
    async create(key, value) {
      return store.create(key, encode(key, value));
    },
    async update(key, value, revision) {
      return store.update(key, encode(key, value), revision);
    },
    async put(key, value) {
      return store.put(key, encode(key, value));
    },
    async delete(key, revision) {
      ensureOpen("kv delete");
      assertKvKey(store.bucket, key);
      store.delete(key, revision);
    },
    async keys() {
      ensureOpen("kv keys");
      return store.keys();
    },
  };
}
