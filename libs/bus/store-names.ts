// Names of KV buckets, KV keys and work queues, checked the same way on both transports so code
// that works in-process does not fail later on NATS.

const KEY = /^[A-Za-z0-9_=.-]+$/;
const BUCKET = /^[A-Za-z0-9_-]+$/;

export function assertKvKey(bucket: string, key: string): void {
  if (!KEY.test(key) || key.startsWith(".") || key.endsWith(".")) {
    throw new Error(
      `kv ${bucket}: invalid key ${JSON.stringify(key)}: use letters, digits and _ = . - (no leading or trailing dot)`,
    );
  }
}

/** Blob names follow KV key rules, so a job key works as a name on both transports. */
export function assertBlobName(store: string, name: string): void {
  if (!KEY.test(name) || name.startsWith(".") || name.endsWith(".")) {
    throw new Error(
      `blob store ${store}: invalid name ${JSON.stringify(name)}: use letters, digits and _ = . - (no leading or trailing dot)`,
    );
  }
}

export function assertBucketName(bucket: string): void {
  if (!BUCKET.test(bucket)) {
    throw new Error(`invalid kv bucket name ${JSON.stringify(bucket)}: use letters, digits, _ and -`);
  }
}

/** JetStream stream name for a work queue: prefix + the name with anything but [A-Za-z0-9_-] as `_`. */
export function streamNameFor(queue: string, prefix: string): string {
  if (queue === "") throw new Error("work queue name is empty: give every work queue a name");
  return `${prefix}${queue.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}
