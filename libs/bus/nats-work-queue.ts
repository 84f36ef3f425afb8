// A work queue on NATS: one JetStream stream with work-queue retention per queue (file storage,
// de-duplication by Nats-Msg-Id inside duplicate_window) and one durable pull consumer with
// explicit acks per consumer name. Only the basics, so it runs on nats-server 2.9.
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { type NatsConnection, nanos } from "@nats-io/transport-node";
import type { z } from "zod";
import type { Boundary } from "./boundary.ts";
import type { Topic, WorkItem, WorkQueue, WorkQueueOptions } from "./bus.ts";
import { encodeMessage } from "./envelope.ts";
import { fromNatsHeaders, toNatsHeaders } from "./nats-headers.ts";

const DEFAULT_ACK_WAIT_MS = 30_000;
const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;
const API = {
  StreamNotFound: 10059,
  ConsumerNotFound: 10014,
  StreamNameInUse: 10058,
  SubjectsOverlap: 10065,
};
const MULTIPLE_CONSUMERS = 10099;

export interface NatsWorkQueueContext {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  boundary: Boundary;
  ensureOpen(op: string): void;
  /** Registers a stop function so `close()` ends consumers before draining. */
  track(stop: () => Promise<void>): () => void;
}

export async function openNatsWorkQueue<S extends z.ZodType>(
  ctx: NatsWorkQueueContext,
  name: string,
  stream: string,
  topic: Topic<S>,
  opts: WorkQueueOptions,
): Promise<WorkQueue<S>> {
  const ackWaitMs = opts.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
  await ensureStream(
    ctx.jsm,
    name,
    stream,
    topic.subject,
    opts.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS,
  );
  return {
    async add(data, addOpts) {
      ctx.ensureOpen("work queue add");
      const raw = encodeMessage(topic.subject, topic.schema, data);
      const headers = toNatsHeaders(addOpts.headers);
      const ack = await ctx.js.publish(topic.subject, raw, {
        msgID: addOpts.msgId,
        ...(headers ? { headers } : {}),
      });
      return { duplicate: ack.duplicate };
    },

    async consume(consumer, handler) {
      ctx.ensureOpen("work queue consume");
      await ensureConsumer(ctx.jsm, name, stream, consumer, ackWaitMs);
      const source = await ctx.js.consumers.get(stream, consumer);
      let active = true;
      const deliver = (m: JsMsg) => {
        if (!active) {
          // Pulled before the stop but not handled: let another consumer have it now.
          m.nak();
          return;
        }
        const decoded = ctx.boundary.decode(topic.schema, m.subject, m.string());
        if (!decoded) {
          // No reason text: nats-server 2.9 only understands a bare +TERM.
          m.term();
          return;
        }
        const item: WorkItem<z.output<S>> = {
          data: decoded.value,
          headers: fromNatsHeaders(m.headers),
          subject: m.subject,
          msgId: m.headers?.get("Nats-Msg-Id") ?? "",
          deliveryCount: m.info.deliveryCount,
          ack: async () => {
            await m.ackAck();
          },
          nak: async (delayMs) => {
            m.nak(delayMs);
            await ctx.nc.flush();
          },
          working: async () => {
            m.working();
            await ctx.nc.flush();
          },
          term: async () => {
            m.term();
            await ctx.nc.flush();
          },
        };
        void ctx.boundary.guard(
          "work queue handler failed; the item comes back after ackWait",
          { queue: name, consumer, msgId: item.msgId, deliveryCount: item.deliveryCount },
          () => handler(item),
        );
      };
      const messages = await source.consume({ callback: (m) => deliver(m) });
      const stop = async () => {
        if (!active) return;
        active = false;
        untrack();
        await messages.close();
      };
      const untrack = ctx.track(stop);
      return { unsubscribe: stop };
    },
  };
}

async function ensureStream(
  jsm: JetStreamManager,
  queue: string,
  stream: string,
  subject: string,
  duplicateWindowMs: number,
): Promise<void> {
  const wanted = { subjects: [subject], duplicate_window: nanos(duplicateWindowMs) };
  const existing = await jsm.streams.info(stream).catch((err: unknown) => {
    if (isApiError(err, API.StreamNotFound)) return undefined;
    throw err;
  });
  if (existing) {
    const cfg = existing.config;
    if (cfg.subjects?.join() !== subject || cfg.duplicate_window !== wanted.duplicate_window) {
      await jsm.streams.update(stream, { ...cfg, ...wanted });
    }
    return;
  }
  try {
    await jsm.streams.add({
      name: stream,
      ...wanted,
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
    });
  } catch (err) {
    // Another service created it first: that is what we wanted.
    if (isApiError(err, API.StreamNameInUse)) return;
    if (isApiError(err, API.SubjectsOverlap)) {
      throw new Error(
        `work queue "${queue}": another JetStream stream already stores ${subject}; ` +
          "give each work queue its own subject (or delete the old stream with `nats stream rm`)",
      );
    }
    throw err;
  }
}

async function ensureConsumer(
  jsm: JetStreamManager,
  queue: string,
  stream: string,
  consumer: string,
  ackWaitMs: number,
): Promise<void> {
  const ackWait = nanos(ackWaitMs);
  const existing = await jsm.consumers.info(stream, consumer).catch((err: unknown) => {
    if (isApiError(err, API.ConsumerNotFound)) return undefined;
    throw err;
  });
  if (existing) {
    if (existing.config.ack_wait !== ackWait)
      await jsm.consumers.update(stream, consumer, { ack_wait: ackWait });
    return;
  }
  try {
    await jsm.consumers.add(stream, {
      durable_name: consumer,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: ackWait,
      max_deliver: -1,
    });
  } catch (err) {
    if (isApiError(err, MULTIPLE_CONSUMERS)) {
      throw new Error(
        `work queue "${queue}" is already consumed under another consumer name, refusing consumer "${consumer}": ` +
          "a work queue has one consumer name (JetStream work-queue stream); share that name to split the items",
      );
    }
    throw err;
  }
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}
