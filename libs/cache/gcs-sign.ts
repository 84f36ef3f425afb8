// GCS signed URLs as GitLab Runner's gcsv2 adapter gets them from the Go storage library's
// default scheme, V2 (runner-api.md (d)): the string to sign is the verb, Content-MD5 (empty),
// Content-Type, the Expires epoch, the x-goog-* headers (sorted, `name:value` lines) and
// `/<bucket>/<object>`, signed RSA-SHA256 with the service account's private key; the URL carries
// GoogleAccessId, Expires and the base64 Signature. Always https; the host is
// storage.googleapis.com unless STORAGE_EMULATOR_HOST names another. Pure: the time comes in.
import { createSign } from "node:crypto";

export interface GcsSignInput {
  accessId: string;
  /** PEM private key of the service account. */
  privateKey: string;
  bucket: string;
  objectName: string;
  method: "GET" | "HEAD" | "PUT";
  expiresAt: Date;
  /** PUT only: GitLab signs application/octet-stream, which the upload must then send. */
  contentType?: string;
  /** x-goog-* headers the request must carry (content-length-range, meta-cachekey). */
  headers?: Record<string, string>;
  emulatorHost?: string;
}

const encodePath = (s: string) => s.split("/").map(encodeURIComponent).join("/");

export function gcsStringToSign(o: GcsSignInput): string {
  const expires = Math.floor(o.expiresAt.getTime() / 1000);
  const ext = Object.entries(o.headers ?? {})
    .map(([k, v]) => [k.toLowerCase(), v.trim()] as const)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}:${v}\n`)
    .join("");
  return `${o.method}\n\n${o.contentType ?? ""}\n${expires}\n${ext}/${o.bucket}/${o.objectName}`;
}

export function signGcsV2(o: GcsSignInput): { url: string; headers: Record<string, string> } {
  const signature = createSign("RSA-SHA256").update(gcsStringToSign(o)).sign(o.privateKey, "base64");
  const host = o.emulatorHost?.replace(/^https?:\/\//, "") || "storage.googleapis.com";
  const q = new URLSearchParams({
    GoogleAccessId: o.accessId,
    Expires: String(Math.floor(o.expiresAt.getTime() / 1000)),
    Signature: signature,
  });
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (o.contentType) headers["Content-Type"] = o.contentType;
  return { url: `https://${host}/${o.bucket}/${encodePath(o.objectName)}?${q}`, headers };
}

/** The headers GitLab signs into a GCS PUT: the size range (when limited) and the cache key. */
export function gcsPutHeaders(cacheKey: string, maxBytes: number): Record<string, string> {
  const h: Record<string, string> = { "x-goog-meta-cachekey": cacheKey };
  if (maxBytes > 0) h["x-goog-content-length-range"] = `0,${maxBytes}`;
  return h;
}
