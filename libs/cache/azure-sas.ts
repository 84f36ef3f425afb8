// Azure blob SAS tokens as GitLab Runner's azure cache adapter makes them (cache/azure/azure.go,
// runner-api.md (d)): a service SAS for the one blob (sr=b), HTTPS only, valid from an hour ago
// (clock skew) to now + the job timeout, permission r (GET/HEAD) or w (PUT), signed HMAC-SHA256
// with the account key over Azure's string to sign for version 2020-12-06 and later. The blob
// URL is https://<account>.<StorageDomain>/<container>/<blob>, or, for an emulator domain
// (127.0.0.1…, localhost…), https://<domain>/<account>/<container>/<blob> as GoCloud builds it.
// Uploads are one Put Blob: `x-ms-blob-type: BlockBlob` and the cache key as metadata. Pure.
import { createHmac } from "node:crypto";

export const AZURE_DEFAULT_DOMAIN = "blob.core.windows.net";
/** The storage service version the SAS is signed for (the Go SDK's at the time of writing). */
export const AZURE_SAS_VERSION = "2023-11-03";

export interface AzureSasInput {
  accountName: string;
  /** Base64, as the portal shows it. */
  accountKey: string;
  container: string;
  blob: string;
  permissions: "r" | "w";
  start: Date;
  expiry: Date;
  version?: string;
}

/** Azure's SAS times: ISO 8601 to the second, UTC. */
const sasTime = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

export function azureSasStringToSign(o: AzureSasInput): string {
  return [
    o.permissions,
    sasTime(o.start),
    sasTime(o.expiry),
    `/blob/${o.accountName}/${o.container}/${o.blob}`,
    "", // signed identifier
    "", // signed IP
    "https",
    o.version ?? AZURE_SAS_VERSION,
    "b",
    "", // snapshot time
    "", // encryption scope
    "", // rscc
    "", // rscd
    "", // rsce
    "", // rscl
    "", // rsct
  ].join("\n");
}

/** The SAS query string (what GitLab Runner hands the helper as AZURE_STORAGE_SAS_TOKEN). */
export function azureBlobSas(o: AzureSasInput): string {
  const sig = createHmac("sha256", Buffer.from(o.accountKey, "base64"))
    .update(azureSasStringToSign(o), "utf8")
    .digest("base64");
  return new URLSearchParams({
    sv: o.version ?? AZURE_SAS_VERSION,
    spr: "https",
    st: sasTime(o.start),
    se: sasTime(o.expiry),
    sr: "b",
    sp: o.permissions,
    sig,
  }).toString();
}

export function azureBlobUrl(o: {
  accountName: string;
  storageDomain?: string;
  container: string;
  blob: string;
}): string {
  const domain = o.storageDomain || AZURE_DEFAULT_DOMAIN;
  const path = [o.container, ...o.blob.split("/")].map(encodeURIComponent).join("/");
  return /^(127\.0\.0\.1|localhost)/.test(domain)
    ? `https://${domain}/${o.accountName}/${path}`
    : `https://${o.accountName}.${domain}/${path}`;
}

/** The headers of GitLab Runner's Put Blob: a block blob carrying its cache key. */
export function azurePutHeaders(cacheKey: string): Record<string, string> {
  // GoCloud URL-escapes metadata values (a header carries ASCII only).
  return { "x-ms-blob-type": "BlockBlob", "x-ms-meta-cachekey": encodeURIComponent(cacheKey) };
}
