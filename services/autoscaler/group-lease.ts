// One active autoscaler per instance group: the holder of the group's key in a KV bucket, taken
// by create, kept by compare-and-set renewals, and taken over by a standby once the holder has
// stopped renewing it (it died, or lost the bus). A renewal that loses the compare-and-set means
// another autoscaler has the group: the caller must stop acting on it at once.
//
// Clocks of two machines never meet here: the `expiresAt` a holder writes is for people reading
// the bucket, never compared with another machine's clock. A standby decides that the holder is
// gone from what it saw itself: the same revision of the key, unchanged for a whole TTL on its
// own clock (a live holder writes a new revision every third of it). A holder whose own renewals
// have not succeeded for a TTL on its own clock no longer counts itself the holder, so the two
// never overlap whatever the skew between their wall clocks.
import type { KvBucket } from "../../libs/bus/bus.ts";
import { KvConflictError } from "../../libs/bus/bus.ts";
import type { autoscalerLeaseSchema } from "../../libs/messages/subjects.ts";

export class GroupLease {
  private revision: number | undefined;
  private renewedAt = 0;
  /** The other holder's revision this standby last saw, and when it first saw it (own clock). */
  private seen: { revision: number; at: number } | undefined;

  constructor(
    private readonly bucket: KvBucket<typeof autoscalerLeaseSchema>,
    readonly groupKey: string,
    readonly holder: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Held, and renewed within the last TTL on this machine's clock. */
  get held(): boolean {
    return this.revision !== undefined && this.now() - this.renewedAt < this.ttlMs;
  }

  /** Takes the lease when it is free or its holder stopped renewing; true when this holder has it now. */
  async tryAcquire(): Promise<boolean> {
    if (this.revision !== undefined) return this.renew();
    const now = this.now();
    const value = { holder: this.holder, expiresAt: now + this.ttlMs };
    try {
      const current = await this.bucket.get(this.groupKey);
      if (!current) this.taken(await this.bucket.create(this.groupKey, value), now);
      else if (current.value.holder === this.holder || this.silentFor(current.revision, now) >= this.ttlMs)
        this.taken(await this.bucket.update(this.groupKey, value, current.revision), now);
      return this.revision !== undefined;
    } catch (err) {
      if (err instanceof KvConflictError) return false;
      throw err;
    }
  }

  /** How long (own clock) the key has stood at `revision` since this standby first saw it there. */
  private silentFor(revision: number, now: number): number {
    if (this.seen?.revision !== revision) this.seen = { revision, at: now };
    return now - this.seen.at;
  }

  private taken(revision: number, now: number): void {
    this.revision = revision;
    this.renewedAt = now;
    this.seen = undefined;
  }

  /** Extends the lease; false (and no longer held) when someone else took it meanwhile. */
  async renew(): Promise<boolean> {
    if (this.revision === undefined) return false;
    const now = this.now();
    try {
      this.revision = await this.bucket.update(
        this.groupKey,
        { holder: this.holder, expiresAt: now + this.ttlMs },
        this.revision,
      );
      this.renewedAt = now;
      return true;
    } catch (err) {
      this.revision = undefined;
      if (err instanceof KvConflictError) return false;
      throw err;
    }
  }

  /** Hands the group over at once (a clean stop), if still held. */
  async release(): Promise<void> {
    if (this.revision === undefined) return;
    const revision = this.revision;
    this.revision = undefined;
    await this.bucket.delete(this.groupKey, revision).catch(() => undefined);
  }
}
