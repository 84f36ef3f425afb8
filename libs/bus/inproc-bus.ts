// The embedded transport (`runmesh run`): every tier in one process talks through this object.
// It keeps NATS semantics where services could notice the difference: delivery is asynchronous
// and in publish order, every message goes through JSON (no shared mutable objects), wildcards
// and queue groups behave as on NATS, and a request nobody serves fails at once.
import { randomUUID } from "node:crypto";
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
  WorkItem,
  WorkQueue,
  WorkQueueOptions,
} from "./bus.ts";
import { BusClosedError, BusNoRespondersError, BusTimeoutError, DEFAULT_REQUEST_TIMEOUT_MS } from "./bus.ts";
import { decodeReply, encodeMessage } from "./envelope.ts";
import { InprocBlobStore } from "./inproc-blobs.ts";
import { InprocKvStore, inprocBucket } from "./inproc-kv.ts";
import { InprocWorkQueueStore } from "./inproc-work-queue.ts";
import { assertBucketName } from "./store-names.ts";
import { assertSubject, subjectMatches } from "./subject-match.ts";

export interface InprocBusOptions {
  /** Where dropped messages and failing handlers are reported (default: a "bus" logger on stderr). */
  logger?: Logger;
}

interface CoreMessage {
  subject: string;
  raw: string;
  headers: Headers;
  reply?: (raw: string) => void;
}

interface CoreSubscriber {
  pattern: string;
  queue: string | undefined;
  active: boolean;
  deliver(msg: CoreMessage): void;
}

export function createInprocBus(opts: InprocBusOptions = {}): Bus {
  return new InprocBus(opts.logger ?? createLogger({ service: "bus" }));
}

class InprocBus implements Bus {
  readonly transport = "inproc";
  private state: BusStatus = "connected";
  private readonly listeners = new Set<(s: BusStatus) => void>();
  private subscribers: CoreSubscriber[] = [];
  private readonly queues = new Map<string, InprocWorkQueueStore>();
  private readonly buckets = new Map<string, InprocKvStore>();
  private readonly blobStores = new Map<string, InprocBlobStore>();
  private readonly boundary: Boundary;
  private readonly pendingRequests = new Set<() => void>();

  constructor(log: Logger) {
    this.boundary = new Boundary(log.child({ transport: "inproc" }));
  }

  async publish<S extends z.ZodType>(
    topic: Topic<S>,
    data: z.input<S>,
    headers: Headers = {},
  ): Promise<void> {
    this.ensureOpen("publish");
    assertSubject(topic.subject, { wildcards: false });
    const raw = encodeMessage(topic.subject, topic.schema, data);
    this.route({ subject: topic.subject, raw, headers });
    // On NATS a stream stores every publish on its subjects, with or without a message id.
    for (const queue of this.queues.values()) {
      if (subjectMatches(queue.subject, topic.subject)) queue.add(topic.subject, raw, headers, randomUUID());
    }
  }

  async subscribe<S extends z.ZodType>(
    topic: Topic<S>,
    handler: (msg: Delivered<z.output<S>>) => Promise<void> | void,
    opts: SubscribeOptions = {},
  ): Promise<Subscription> {
    this.ensureOpen("subscribe");
    return this.listen(topic.subject, opts.queue, (msg) => {
      void this.boundary.receive(topic, msg.subject, msg.raw, msg.headers, handler);
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
    const timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const reply = await new Promise<string>((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.pendingRequests.delete(cancel);
        fn();
      };
      const cancel = () =>
        finish(() => reject(new BusClosedError(this.transport, `request on ${rpc.subject}`)));
      const timer = setTimeout(
        () => finish(() => reject(new BusTimeoutError(rpc.subject, timeoutMs))),
        timeoutMs,
      );
      this.pendingRequests.add(cancel);
      const receivers = this.route({
        subject: rpc.subject,
        raw,
        headers: opts.headers ?? {},
        reply: (answer) => finish(() => resolve(answer)),
      });
      if (receivers === 0) finish(() => reject(new BusNoRespondersError(rpc.subject)));
    });
    return decodeReply(rpc.subject, rpc.response, reply);
  }

  async serve<Req extends z.ZodType, Res extends z.ZodType>(
    rpc: Rpc<Req, Res>,
    handler: (req: Delivered<z.output<Req>>) => Promise<z.input<Res>> | z.input<Res>,
    opts: SubscribeOptions = {},
  ): Promise<Subscription> {
    this.ensureOpen("serve");
    return this.listen(rpc.subject, opts.queue, (msg) => {
      void this.boundary.answer(rpc, msg.subject, msg.raw, msg.headers, handler).then((answer) => {
        // Replies are asynchronous too, and a closed bus no longer answers.
        if (this.state !== "closed") setImmediate(() => msg.reply?.(answer));
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
    let store = this.queues.get(name);
    if (!store) {
      for (const other of this.queues.values()) {
        if (other.subject === topic.subject) {
          throw new Error(
            `work queue "${name}" on ${topic.subject}: work queue "${other.name}" already stores that subject; ` +
              "give each work queue its own subject",
          );
        }
      }
      store = new InprocWorkQueueStore(name, topic.subject);
      this.queues.set(name, store);
    } else if (store.subject !== topic.subject) {
      throw new Error(
        `work queue "${name}" stores ${store.subject}, not ${topic.subject}: use one subject per work queue name`,
      );
    }
    store.configure(opts);
    const queueStore = store;
    return {
      add: async (data, addOpts) => {
        this.ensureOpen("work queue add");
        const raw = encodeMessage(topic.subject, topic.schema, data);
        const headers = addOpts.headers ?? {};
        const result = queueStore.add(topic.subject, raw, headers, addOpts.msgId);
        // As on NATS, where a JetStream publish is also a core message on the subject.
        if (!result.duplicate) this.route({ subject: topic.subject, raw, headers });
        return result;
      },
      consume: async (consumer, handler) => {
        this.ensureOpen("work queue consume");
        const stop = queueStore.consume(consumer, (stored, deliveryCount) => {
          const decoded = this.boundary.decode(topic.schema, stored.subject, stored.raw);
          if (!decoded) {
            // It will never parse: redelivering it would only repeat the log line.
            queueStore.term(stored.seq);
            return;
          }
          const item: WorkItem<z.output<S>> = {
            data: decoded.value,
            headers: { ...stored.headers },
            subject: stored.subject,
            msgId: stored.msgId,
            deliveryCount,
            ack: async () => queueStore.ack(stored.seq),
            nak: async (delayMs) => queueStore.nak(stored.seq, delayMs),
            working: async () => queueStore.working(stored.seq),
            term: async () => queueStore.term(stored.seq),
          };
          void this.boundary.guard(
            "work queue handler failed; the item comes back after ackWait",
            { queue: name, consumer, msgId: stored.msgId, deliveryCount },
            () => handler(item),
          );
        });
        return { unsubscribe: async () => stop() };
      },
    };
  }

  async kv<S extends z.ZodType>(bucket: string, schema: S, _opts: BucketOptions = {}): Promise<KvBucket<S>> {
    this.ensureOpen("kv");
    assertBucketName(bucket);
    let store = this.buckets.get(bucket);
    if (!store) {
      store = new InprocKvStore(bucket);
      this.buckets.set(bucket, store);
    }
    return inprocBucket(store, schema, (op) => this.ensureOpen(op));
  }

  async blobs(name: string, opts: BlobStoreOptions = {}): Promise<BlobStore> {
    this.ensureOpen("blobs");
    assertBucketName(name);
    let store = this.blobStores.get(name);
    if (!store) {
      store = new InprocBlobStore(name, opts);
      this.blobStores.set(name, store);
    }
    return store.handle((op) => this.ensureOpen(op));
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
    this.state = "closed";
    for (const sub of this.subscribers) sub.active = false;
    this.subscribers = [];
    for (const queue of this.queues.values()) queue.close();
    for (const cancel of [...this.pendingRequests]) cancel();
    for (const listener of this.listeners) listener("closed");
  }

  private listen(
    pattern: string,
    queue: string | undefined,
    deliver: (msg: CoreMessage) => void,
  ): Subscription {
    assertSubject(pattern, { wildcards: true });
    const sub: CoreSubscriber = { pattern, queue, active: true, deliver };
    this.subscribers.push(sub);
    return {
      unsubscribe: async () => {
        sub.active = false;
        this.subscribers = this.subscribers.filter((s) => s !== sub);
      },
    };
  }

  /** Hands a message to every plain subscriber and one member per queue group; returns how many. */
  private route(msg: CoreMessage): number {
    const targets: CoreSubscriber[] = [];
    const groups = new Map<string, CoreSubscriber[]>();
    for (const sub of this.subscribers) {
      if (!subjectMatches(sub.pattern, msg.subject)) continue;
      if (sub.queue === undefined) {
        targets.push(sub);
      } else {
        const group = groups.get(sub.queue) ?? [];
        group.push(sub);
        groups.set(sub.queue, group);
      }
    }
    for (const group of groups.values()) {
      // NATS picks a random member; so do we, so no service relies on an order.
      const member = group[Math.floor(Math.random() * group.length)];
      if (member) targets.push(member);
    }
    for (const sub of targets) {
      const copy: CoreMessage = { ...msg, headers: { ...msg.headers } };
      setImmediate(() => {
        if (sub.active) sub.deliver(copy);
      });
    }
    return targets.length;
  }

  private ensureOpen(operation: string): void {
    if (this.state === "closed") throw new BusClosedError(this.transport, operation);
  }
}
