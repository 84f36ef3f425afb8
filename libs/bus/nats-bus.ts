// The distributed transport: core NATS for pub/sub and request/reply, JetStream for work queues
// and KV. The connection reconnects forever; services watch `onStatus` to know when the mesh is
// unreachable rather than guessing from timeouts.
import { readFile } from "node:fs/promises";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { Objm } from "@nats-io/obj";
import {
  connect,
  credsAuthenticator,
  type Msg,
  type NatsConnection,
  type NodeConnectionOptions,
  RequestError,
  TimeoutError,
} from "@nats-io/transport-node";
import type { z } from "zod";
import { createLogger, type Logger } from "../log/logger.ts";
import { Boundary } from "./boundary.ts";
import type {
  BlobStore,
  BlobStoreOptions,
  BucketOptions,
  Bus,
  BusStatus,
  Delivered,
  Headers,
  KvBucket,
  Rpc,
  SubscribeOptions,
  Subscription,
  Topic,
  WorkQueue,
  WorkQueueOptions,
} from "./bus.ts";
import { BusClosedError, BusNoRespondersError, BusTimeoutError, DEFAULT_REQUEST_TIMEOUT_MS } from "./bus.ts";
import { decodeReply, encodeMessage } from "./envelope.ts";
import { openNatsBlobStore } from "./nats-blobs.ts";
import { fromNatsHeaders, toNatsHeaders } from "./nats-headers.ts";
import { natsBucket } from "./nats-kv.ts";
import { openNatsWorkQueue } from "./nats-work-queue.ts";
import { assertBucketName, streamNameFor } from "./store-names.ts";
import { assertSubject } from "./subject-match.ts";

export interface NatsBusOptions {
  /** One URL or several of the same cluster, e.g. "nats://127.0.0.1:4222". */
  servers: string | string[];
  user?: string | undefined;
  pass?: string | undefined;
  token?: string | undefined;
  /** A NATS .creds file (JWT + nkey seed), read once at connect. */
  credsFile?: string | undefined;
  tls?:
    | { caFile?: string | undefined; certFile?: string | undefined; keyFile?: string | undefined }
    | undefined;
  /** Connection name shown by the server's monitoring (e.g. the service and its id). */
  name?: string | undefined;
  /**
   * Prefix of this connection's reply subjects (default "_INBOX"): with one per identity, the
   * server can let each user subscribe to its own replies only (deploy/nats/identities.conf).
   */
  inboxPrefix?: string | undefined;
  /** Prefix of the JetStream stream of every work queue (default "RUNMESH_"). */
  streamPrefix?: string | undefined;
  /** Pause between reconnect attempts (default 1000 ms); attempts never stop. */
  reconnectTimeWaitMs?: number | undefined;
  /** Where dropped messages, failing handlers and connection changes go (default: a "bus" logger). */
  logger?: Logger | undefined;
}

const DEFAULT_STREAM_PREFIX = "RUNMESH_";

export async function connectNatsBus(opts: NatsBusOptions): Promise<Bus> {
  const servers = Array.isArray(opts.servers) ? opts.servers : [opts.servers];
  const log = (opts.logger ?? createLogger({ service: "bus" })).child({ transport: "nats" });
  const options: NodeConnectionOptions = {
    servers,
    maxReconnectAttempts: -1,
    reconnectTimeWait: opts.reconnectTimeWaitMs ?? 1_000,
  };
  if (opts.name) options.name = opts.name;
  if (opts.inboxPrefix) options.inboxPrefix = opts.inboxPrefix;
  if (opts.user !== undefined) options.user = opts.user;
  if (opts.pass !== undefined) options.pass = opts.pass;
  if (opts.token !== undefined) options.token = opts.token;
  if (opts.credsFile) {
    const creds = await readFile(opts.credsFile).catch((err: Error) => {
      throw new Error(
        `NATS credentials file ${opts.credsFile}: ${err.message}; check [mesh] nats_creds_file`,
      );
    });
    options.authenticator = credsAuthenticator(new Uint8Array(creds));
  }
  if (opts.tls) {
    const tls: NonNullable<NodeConnectionOptions["tls"]> = {};
    if (opts.tls.caFile) tls.caFile = opts.tls.caFile;
    if (opts.tls.certFile) tls.certFile = opts.tls.certFile;
    if (opts.tls.keyFile) tls.keyFile = opts.tls.keyFile;
    options.tls = tls;
  }
  let nc: NatsConnection;
  try {
    nc = await connect(options);
  } catch (err) {
    throw new Error(
      `cannot connect to NATS at ${servers.join(", ")}: ${(err as Error).message}; ` +
        "check [mesh] nats_url and credentials, and that nats-server is running",
      { cause: err },
    );
  }
  const jsm = await jetstreamManager(nc);
  return new NatsBus(nc, jetstream(nc), jsm, log, opts.streamPrefix ?? DEFAULT_STREAM_PREFIX);
}

class NatsBus implements Bus {
  readonly transport = "nats";
  private state: BusStatus = "connected";
  private readonly listeners = new Set<(s: BusStatus) => void>();
  private readonly boundary: Boundary;
  private readonly buckets = new Map<string, Promise<KV>>();
  private readonly consumers = new Set<() => Promise<void>>();
  private readonly kvm: Kvm;
  /** @nats-io/obj, loaded with the first blob store (large payloads only): ~3 MB idle RSS. */
  private objm: Promise<Objm> | undefined;
  private readonly blobStores = new Map<string, Promise<BlobStore>>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly log: Logger,
    private readonly streamPrefix: string,
  ) {
    this.boundary = new Boundary(log);
    this.kvm = new Kvm(js);
    void this.watchStatus();
    void nc.closed().then(() => this.setStatus("closed"));
  }

  async publish<S extends z.ZodType>(topic: Topic<S>, data: z.input<S>, headers?: Headers): Promise<void> {
    this.ensureOpen("publish");
    assertSubject(topic.subject, { wildcards: false });
    const raw = encodeMessage(topic.subject, topic.schema, data);
    const h = toNatsHeaders(headers);
    this.nc.publish(topic.subject, raw, h ? { headers: h } : undefined);
  }

  async subscribe<S extends z.ZodType>(
    topic: Topic<S>,
    handler: (msg: Delivered<z.output<S>>) => Promise<void> | void,
    opts: SubscribeOptions = {},
  ): Promise<Subscription> {
    this.ensureOpen("subscribe");
    return this.listen(topic.subject, opts.queue, (msg) => {
      void this.boundary.receive(topic, msg.subject, msg.string(), fromNatsHeaders(msg.headers), handler);
    });
  }

  async request<Req extends z.ZodType, Res extends z.ZodType>(
    rpc: Rpc<Req, Res>,
    data: z.input<Req>,
    opts: { timeoutMs?: number; headers?: Headers } = {},
  ): Promise<z.output<Res>> {
    this.ensureOpen("request");
    assertSubject(rpc.subject, { wildcards: false });
    const raw = encodeMessage(rpc.subject, rpc.request, data);
    const timeout = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const headers = toNatsHeaders(opts.headers);
    let reply: Msg;
    try {
      reply = await this.nc.request(rpc.subject, raw, { timeout, ...(headers ? { headers } : {}) });
    } catch (err) {
      if (err instanceof TimeoutError) throw new BusTimeoutError(rpc.subject, timeout);
      if (err instanceof RequestError && err.isNoResponders()) throw new BusNoRespondersError(rpc.subject);
      throw err;
    }
    return decodeReply(rpc.subject, rpc.response, reply.string());
  }

  async serve<Req extends z.ZodType, Res extends z.ZodType>(
    rpc: Rpc<Req, Res>,
    handler: (req: Delivered<z.output<Req>>) => Promise<z.input<Res>> | z.input<Res>,
    opts: SubscribeOptions = {},
  ): Promise<Subscription> {
    this.ensureOpen("serve");
    return this.listen(rpc.subject, opts.queue, (msg) => {
      void this.boundary
        .answer(rpc, msg.subject, msg.string(), fromNatsHeaders(msg.headers), handler)
        .then((answer) => {
          if (!msg.reply) return;
          try {
            msg.respond(answer);
          } catch (err) {
            // The connection closed while the handler ran; the requester will time out.
            this.log.warn({ subject: msg.subject, err }, "could not send a reply");
          }
        });
    });
  }

  async workQueue<S extends z.ZodType>(
    name: string,
    topic: Topic<S>,
    opts: WorkQueueOptions = {},
  ): Promise<WorkQueue<S>> {
    this.ensureOpen("workQueue");
    assertSubject(topic.subject, { wildcards: false });
    const ctx = {
      nc: this.nc,
      js: this.js,
      jsm: this.jsm,
      boundary: this.boundary,
      ensureOpen: (op: string) => this.ensureOpen(op),
      track: (stop: () => Promise<void>) => {
        this.consumers.add(stop);
        return () => this.consumers.delete(stop);
      },
    };
    return openNatsWorkQueue(ctx, name, streamNameFor(name, this.streamPrefix), topic, opts);
  }

  async kv<S extends z.ZodType>(bucket: string, schema: S, opts: BucketOptions = {}): Promise<KvBucket<S>> {
    this.ensureOpen("kv");
    assertBucketName(bucket);
    let kv = this.buckets.get(bucket);
    if (!kv) {
      kv = this.kvm.create(bucket, { history: opts.history ?? 1 });
      this.buckets.set(bucket, kv);
      kv.catch(() => this.buckets.delete(bucket));
    }
    return natsBucket(bucket, await kv, schema, (op) => this.ensureOpen(op));
  }

  async blobs(name: string, opts: BlobStoreOptions = {}): Promise<BlobStore> {
    this.ensureOpen("blobs");
    assertBucketName(name);
    let store = this.blobStores.get(name);
    if (!store) {
      this.objm ??= import("@nats-io/obj").then(({ Objm }) => new Objm(this.js));
      store = this.objm.then((objm) => openNatsBlobStore(objm, name, opts, (op) => this.ensureOpen(op)));
      this.blobStores.set(name, store);
      store.catch(() => this.blobStores.delete(name));
    }
    return store;
  }

  status(): BusStatus {
    return this.state;
  }

  onStatus(listener: (s: BusStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.ensureOpen("close");
    // Consumers first, so no new work item arrives while subscriptions drain.
    await Promise.allSettled([...this.consumers].map((stop) => stop()));
    if (!this.nc.isClosed()) await this.nc.drain();
    this.setStatus("closed");
  }

  private async listen(pattern: string, queue: string | undefined, onMessage: (msg: Msg) => void) {
    assertSubject(pattern, { wildcards: true });
    const sub = this.nc.subscribe(pattern, {
      ...(queue ? { queue } : {}),
      callback: (err, msg) => {
        if (err) {
          this.log.error({ subject: pattern, err }, "subscription failed");
          return;
        }
        onMessage(msg);
      },
    });
    // Once this resolves the server knows the subscription: a publish from another connection
    // made after it is delivered.
    await this.nc.flush();
    let active = true;
    return {
      unsubscribe: async () => {
        if (!active) return;
        active = false;
        if (!this.nc.isClosed()) sub.unsubscribe();
      },
    };
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === "disconnect") this.setStatus("disconnected");
      else if (s.type === "reconnecting") this.setStatus("reconnecting");
      else if (s.type === "reconnect") this.setStatus("connected");
      else if (s.type === "close") this.setStatus("closed");
    }
  }

  private setStatus(next: BusStatus): void {
    if (this.state === next || this.state === "closed") return;
    this.state = next;
    if (next === "connected") this.log.info("NATS connection restored");
    else this.log.warn({ status: next }, "NATS connection state changed");
    for (const listener of this.listeners) {
      try {
        listener(next);
      } catch (err) {
        this.log.error({ err }, "bus status listener failed");
      }
    }
  }

  private ensureOpen(operation: string): void {
    if (this.state === "closed" || this.nc.isClosed()) throw new BusClosedError(this.transport, operation);
  }
}
