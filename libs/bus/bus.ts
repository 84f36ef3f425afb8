// The one bus contract every runmesh service talks through. Two transports implement it:
// in-process (the embedded default, `runmesh run`) and NATS (the distributed mode). The same
// contract test suite (tests/bus-contract.test.ts) runs against both.
import type { z } from "zod";

/** Envelope version carried on every message; bump when a schema changes incompatibly. */
export const ENVELOPE_VERSION = 1;

/** How long `request` waits for a reply when the caller gives no `timeoutMs`. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

/** A subject and the schema of what travels on it: the only way to name a subject. */
export interface Topic<S extends z.ZodType> {
  readonly subject: string;
  readonly schema: S;
}

/** A request/reply subject with both schemas. */
export interface Rpc<Req extends z.ZodType, Res extends z.ZodType> {
  readonly subject: string;
  readonly request: Req;
  readonly response: Res;
}

/** Message headers (trace context travels here, e.g. `traceparent`). */
export type Headers = Record<string, string>;

export interface Subscription {
  /** Stops delivery. Idempotent. */
  unsubscribe(): Promise<void>;
}

export interface SubscribeOptions {
  /** Queue group: each message goes to one member of the group. */
  queue?: string;
}

export interface Delivered<T> {
  data: T;
  headers: Headers;
  subject: string;
}

/** A message taken from a durable work queue; it stays owed until acked or terminated. */
export interface WorkItem<T> extends Delivered<T> {
  /** The message id given to `add` (de-duplication key). */
  msgId: string;
  /** 1 on first delivery, 2+ on redelivery. */
  deliveryCount: number;
  ack(): Promise<void>;
  /** Redeliver after `delayMs` (default: at once). */
  nak(delayMs?: number): Promise<void>;
  /** Still working: push the redelivery deadline out by another `ackWaitMs`. */
  working(): Promise<void>;
  /** Never redeliver. */
  term(): Promise<void>;
}

export interface WorkQueueOptions {
  /** Unacked items come back after this long (default 30 000). */
  ackWaitMs?: number;
  /** Window in which an `add` with a message id already seen is dropped (default 2 min). */
  duplicateWindowMs?: number;
}

/** Durable, de-duplicated, at-least-once queue (JetStream work-queue stream on NATS). */
export interface WorkQueue<S extends z.ZodType> {
  /** Adds an item; returns false when `msgId` was already added inside the duplicate window. */
  add(data: z.input<S>, opts: { msgId: string; headers?: Headers }): Promise<{ duplicate: boolean }>;
  /**
   * Delivers items to `handler` one consumer group wide (durable name `consumer`): each item goes
   * to one consumer, comes back after `ackWaitMs` unless acked, and survives consumer restarts.
   * A work queue has ONE consumer name (a JetStream work-queue stream allows one unfiltered
   * consumer): a second name is refused; handlers sharing the name split the items.
   * A handler that throws, or returns without ack/nak/term, gets the item back after `ackWaitMs`.
   * An item that fails the schema is logged and terminated (it would never parse).
   */
  consume(
    consumer: string,
    handler: (item: WorkItem<z.output<S>>) => Promise<void> | void,
  ): Promise<Subscription>;
}

export interface KvEntry<T> {
  key: string;
  value: T;
  /** Monotonic per bucket; the compare-and-set token. */
  revision: number;
}

/** Thrown by `create` when the key exists and by `update`/`delete` on a revision mismatch. */
export class KvConflictError extends Error {
  constructor(
    readonly bucket: string,
    readonly key: string,
    detail: string,
  ) {
    super(`kv ${bucket}/${key}: ${detail}`);
    this.name = "KvConflictError";
  }
}

/** Key/value bucket with compare-and-set (JetStream KV on NATS). Keys: [A-Za-z0-9_=.-]+ */
export interface KvBucket<S extends z.ZodType> {
  get(key: string): Promise<KvEntry<z.output<S>> | undefined>;
  /** Writes only if the key does not exist (or was deleted). Returns the new revision. */
  create(key: string, value: z.input<S>): Promise<number>;
  /** Writes only if the key's current revision is `revision`. Returns the new revision. */
  update(key: string, value: z.input<S>, revision: number): Promise<number>;
  /** Unconditional write. */
  put(key: string, value: z.input<S>): Promise<number>;
  /** Deletes; with `revision`, only if it still matches. */
  delete(key: string, revision?: number): Promise<void>;
  /** Keys currently holding a value (deleted keys excluded). */
  keys(): Promise<string[]>;
}

/**
 * Objects too big for one message (a job payload with a 20 MiB variable): chunked into a
 * JetStream object store on NATS, whatever the server's max_payload. Names: [A-Za-z0-9_=.-]+
 */
export interface BlobStore {
  /** Stores `data` under `name`, replacing any earlier object of that name; rejects with BlobStoreFullError past the store's cap. */
  put(name: string, data: Uint8Array): Promise<void>;
  /** The object's bytes, or undefined when there is none. */
  get(name: string): Promise<Uint8Array | undefined>;
  /** Removes the object; nothing happens when there is none. */
  delete(name: string): Promise<void>;
}

export interface BlobStoreOptions {
  /** Objects are dropped this long after they were stored: a net for owners that died (default: kept). */
  maxAgeMs?: number;
  /** Cap on the bytes of the whole store, applied when the store is created (default: the server's limits). */
  maxBytes?: number;
}

/** A put that does not fit in the blob store: nothing of it is kept. */
export class BlobStoreFullError extends Error {
  constructor(
    readonly store: string,
    readonly objectName: string,
    readonly bytes: number,
    detail: string,
  ) {
    super(`blob store ${store}: ${objectName} (${bytes} bytes) does not fit: ${detail}`);
    this.name = "BlobStoreFullError";
  }
}

export interface BucketOptions {
  /** History per key kept by the store (default 1). */
  history?: number;
}

/** Connection state changes a service may react to (e.g. pause lost-worker checks while reconnecting). */
export type BusStatus = "connected" | "disconnected" | "reconnecting" | "closed";

export interface Bus {
  /** A name for logs: "inproc" or "nats". */
  readonly transport: string;
  publish<S extends z.ZodType>(topic: Topic<S>, data: z.input<S>, headers?: Headers): Promise<void>;
  subscribe<S extends z.ZodType>(
    topic: Topic<S>,
    handler: (msg: Delivered<z.output<S>>) => Promise<void> | void,
    opts?: SubscribeOptions,
  ): Promise<Subscription>;
  /**
   * Sends a request and waits for one reply (default timeout DEFAULT_REQUEST_TIMEOUT_MS); rejects with
   * BusTimeoutError / BusNoRespondersError, or BusRemoteError when the handler failed.
   */
  request<Req extends z.ZodType, Res extends z.ZodType>(
    rpc: Rpc<Req, Res>,
    data: z.input<Req>,
    opts?: { timeoutMs?: number; headers?: Headers },
  ): Promise<z.output<Res>>;
  /** Serves an Rpc; with `queue`, one of the group members answers. */
  serve<Req extends z.ZodType, Res extends z.ZodType>(
    rpc: Rpc<Req, Res>,
    handler: (req: Delivered<z.output<Req>>) => Promise<z.input<Res>> | z.input<Res>,
    opts?: SubscribeOptions,
  ): Promise<Subscription>;
  workQueue<S extends z.ZodType>(
    name: string,
    subject: Topic<S>,
    opts?: WorkQueueOptions,
  ): Promise<WorkQueue<S>>;
  kv<S extends z.ZodType>(bucket: string, schema: S, opts?: BucketOptions): Promise<KvBucket<S>>;
  /** Opens (creating on first use) a store for large objects; options apply when it is created. */
  blobs(store: string, opts?: BlobStoreOptions): Promise<BlobStore>;
  /** Current connection state; in-process is always "connected" until closed. */
  status(): BusStatus;
  onStatus(listener: (s: BusStatus) => void): () => void;
  /** Flushes and closes; later calls reject. */
  close(): Promise<void>;
}

export class BusTimeoutError extends Error {
  constructor(subject: string, timeoutMs: number) {
    super(`no reply on ${subject} within ${timeoutMs} ms`);
    this.name = "BusTimeoutError";
  }
}

export class BusNoRespondersError extends Error {
  constructor(subject: string) {
    super(`no service answers on ${subject}: is it running and connected to the same bus?`);
    this.name = "BusNoRespondersError";
  }
}

/** A message failed its schema at the boundary; names the subject and what was wrong. */
export class BusSchemaError extends Error {
  constructor(subject: string, detail: string) {
    super(`message on ${subject} does not match its schema: ${detail}`);
    this.name = "BusSchemaError";
  }
}

/**
 * An Rpc handler failed (threw, or its request or reply broke the schema): the requester gets the
 * handler's own message instead of a timeout.
 */
export class BusRemoteError extends Error {
  constructor(
    readonly subject: string,
    /** The `name` of the error the serving side raised, e.g. "Error" or "BusSchemaError". */
    readonly remoteName: string,
    remoteMessage: string,
  ) {
    super(`${subject}: the serving side failed: ${remoteMessage}`);
    this.name = "BusRemoteError";
  }
}

/** An operation on a bus after `close()`. */
export class BusClosedError extends Error {
  constructor(transport: string, operation: string) {
    super(
      `${operation} on a closed ${transport} bus: the service is shutting down; open a new bus to continue`,
    );
    this.name = "BusClosedError";
  }
}
