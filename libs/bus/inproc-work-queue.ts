// Work queues of the in-process bus, modelled on a JetStream work-queue stream with one durable
// pull consumer: items live until acked or terminated (for the life of the process), an unacked
// delivery comes back after ackWait, ids seen inside the duplicate window are dropped, and each
// item is out to one handler of the consumer at a time.
import type { Headers, WorkQueueOptions } from "./bus.ts";

const DEFAULT_ACK_WAIT_MS = 30_000;
const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;

export interface StoredItem {
  readonly seq: number;
  readonly msgId: string;
  readonly subject: string;
  readonly raw: string;
  readonly headers: Headers;
  deliveries: number;
  state: "ready" | "inflight" | "delayed";
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Member {
  active: boolean;
  deliver(item: StoredItem, deliveryCount: number): void;
}

export class InprocWorkQueueStore {
  private seq = 0;
  private readonly items = new Map<number, StoredItem>();
  /** msgId → when it was added; insertion order is time order, so expiry stops at the first live one. */
  private readonly seen = new Map<string, number>();
  private consumerName: string | undefined;
  private members: Member[] = [];
  private nextMember = 0;
  private ackWaitMs = DEFAULT_ACK_WAIT_MS;
  private duplicateWindowMs = DEFAULT_DUPLICATE_WINDOW_MS;

  constructor(
    readonly name: string,
    readonly subject: string,
  ) {}

  /** Later callers may change the timings, as a JetStream stream/consumer update would. */
  configure(opts: WorkQueueOptions): void {
    if (opts.ackWaitMs !== undefined) this.ackWaitMs = positive("ackWaitMs", opts.ackWaitMs);
    if (opts.duplicateWindowMs !== undefined) {
      this.duplicateWindowMs = positive("duplicateWindowMs", opts.duplicateWindowMs);
    }
  }

  add(subject: string, raw: string, headers: Headers, msgId: string): { duplicate: boolean } {
    const now = Date.now();
    for (const [id, at] of this.seen) {
      if (now - at < this.duplicateWindowMs) break;
      this.seen.delete(id);
    }
    if (this.seen.has(msgId)) return { duplicate: true };
    this.seen.set(msgId, now);
    this.seq += 1;
    this.items.set(this.seq, {
      seq: this.seq,
      msgId,
      subject,
      raw,
      headers: { ...headers },
      deliveries: 0,
      state: "ready",
      timer: undefined,
    });
    this.pump();
    return { duplicate: false };
  }

  /** Registers one handler of consumer `name`; returns the function that removes it. */
  consume(name: string, deliver: Member["deliver"]): () => void {
    if (this.consumerName !== undefined && this.consumerName !== name) {
      throw new Error(
        `work queue "${this.name}" is already consumed as "${this.consumerName}", refusing consumer "${name}": ` +
          "a work queue has one consumer name (as on JetStream); share that name to split the items",
      );
    }
    this.consumerName = name;
    const member: Member = { active: true, deliver };
    this.members.push(member);
    this.pump();
    return () => {
      if (!member.active) return;
      member.active = false;
      this.members = this.members.filter((m) => m !== member);
    };
  }

  ack(seq: number): void {
    const item = this.items.get(seq);
    if (!item) return;
    clearTimeout(item.timer);
    this.items.delete(seq);
  }

  term(seq: number): void {
    this.ack(seq);
  }

  nak(seq: number, delayMs = 0): void {
    const item = this.items.get(seq);
    if (item?.state !== "inflight") return;
    clearTimeout(item.timer);
    if (delayMs > 0) {
      item.state = "delayed";
      item.timer = setTimeout(() => this.makeReady(item), delayMs);
    } else {
      this.makeReady(item);
    }
  }

  working(seq: number): void {
    const item = this.items.get(seq);
    if (item?.state !== "inflight") return;
    this.armAckWait(item);
  }

  /** Items not yet acked or terminated (for tests and diagnostics). */
  size(): number {
    return this.items.size;
  }

  close(): void {
    for (const item of this.items.values()) clearTimeout(item.timer);
    for (const member of this.members) member.active = false;
    this.members = [];
  }

  private pump(): void {
    for (const item of this.items.values()) {
      if (item.state !== "ready") continue;
      const member = this.pickMember();
      if (!member) return;
      item.state = "inflight";
      item.deliveries += 1;
      const count = item.deliveries;
      this.armAckWait(item);
      // Asynchronous like a network hop: the caller of add/nak never runs a handler itself.
      setImmediate(() => {
        if (!this.items.has(item.seq) || item.state !== "inflight" || item.deliveries !== count) return;
        if (!member.active) {
          // The handler left between pick and delivery: hand the item to another one now.
          clearTimeout(item.timer);
          this.makeReady(item);
          return;
        }
        member.deliver(item, count);
      });
    }
  }

  private pickMember(): Member | undefined {
    if (this.members.length === 0) return undefined;
    const member = this.members[this.nextMember % this.members.length];
    this.nextMember += 1;
    return member;
  }

  private armAckWait(item: StoredItem): void {
    clearTimeout(item.timer);
    item.timer = setTimeout(() => {
      if (item.state === "inflight") this.makeReady(item);
    }, this.ackWaitMs);
  }

  private makeReady(item: StoredItem): void {
    if (!this.items.has(item.seq)) return;
    item.state = "ready";
    item.timer = undefined;
    this.pump();
  }
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`work queue ${name} must be a positive number of milliseconds, got ${value}`);
  }
  return value;
}
