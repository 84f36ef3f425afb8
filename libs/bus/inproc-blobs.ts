// The in-process blob store: a map of byte copies per store, with the NATS object store's cap
// and age limit, so code that works in `runmesh run` behaves the same over NATS.
import type { BlobStore, BlobStoreOptions } from "./bus.ts";
import { BlobStoreFullError } from "./bus.ts";
import { assertBlobName } from "./store-names.ts";

export class InprocBlobStore {
  private readonly objects = new Map<string, { data: Uint8Array; storedAt: number }>();

  constructor(
    readonly name: string,
    private readonly opts: BlobStoreOptions,
    private readonly now: () => number = Date.now,
  ) {}

  private expire(): void {
    const { maxAgeMs } = this.opts;
    if (maxAgeMs === undefined) return;
    for (const [k, o] of this.objects) if (this.now() - o.storedAt >= maxAgeMs) this.objects.delete(k);
  }

  private bytesWithout(name: string): number {
    let n = 0;
    for (const [k, o] of this.objects) if (k !== name) n += o.data.byteLength;
    return n;
  }

  handle(ensureOpen: (op: string) => void): BlobStore {
    return {
      put: async (name, data) => {
        ensureOpen("blob put");
        assertBlobName(this.name, name);
        this.expire();
        const { maxBytes } = this.opts;
        if (maxBytes !== undefined && this.bytesWithout(name) + data.byteLength > maxBytes)
          throw new BlobStoreFullError(
            this.name,
            name,
            data.byteLength,
            `the store holds at most ${maxBytes} bytes`,
          );
        this.objects.set(name, { data: data.slice(), storedAt: this.now() });
      },
      get: async (name) => {
        ensureOpen("blob get");
        assertBlobName(this.name, name);
        this.expire();
        return this.objects.get(name)?.data.slice();
      },
      delete: async (name) => {
        ensureOpen("blob delete");
        assertBlobName(this.name, name);
        this.objects.delete(name);
      },
    };
  }
}
