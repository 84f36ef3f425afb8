// One active autoscaler per instance group: the holder of the group's key in a KV bucket, taken
// by create, kept by compare-and-set renewals, and taken over by a standby once the holder has
// let it expire (it died, or lost the bus). A renewal that loses the compare-and-set means another
// autoscaler has the group: the caller must stop acting on it at once.
import type { KvBucket } from "../../libs/bus/bus.ts";
import { KvConflictError } from "../../libs/bus/bus.ts";
import type { autoscalerLeaseSchema } from "../../libs/messages/subjects.ts";

export class GroupLease {
  private revision: number | undefined;

  constructor(
    private readonly bucket: KvBucket<typeof autoscalerLeaseSchema>,
    readonly groupKey: string,
    readonly holder: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get held(): boolean {
    return this.revision !== undefined;
  }

  /** Takes the lease when it is free or expired; true when this holder has it now. */
  async tryAcquire(): Promise<boolean> {
    if (this.revision !== undefined) return this.renew();
    const value = { holder: this.holder, expiresAt: this.now() + this.ttlMs };
    try {
      const current = await this.bucket.get(this.groupKey);
      if (!current) this.revision = await this.bucket.create(this.groupKey, value);
      else if (current.value.holder === this.holder || current.value.expiresAt <= this.now())
        this.revision = await this.bucket.update(this.groupKey, value, current.revision);
      return this.revision !== undefined;
    } catch (err) {
      if (err instanceof KvConflictError) return false;
      throw err;
    }
  }

  /** Extends the lease; false (and no longer held) when someone else took it meanwhile. */
  async renew(): Promise<boolean> {
    if (this.revision === undefined) return false;
    try {
      this.revision = await this.bucket.update(
        this.groupKey,
        { holder: this.holder, expiresAt: this.now() + this.ttlMs },
        this.revision,
      );
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
