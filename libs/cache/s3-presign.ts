// S3 presigned URLs, AWS Signature Version 4 in the query string ("Authenticating Requests:
// Using Query Parameters", the scheme GitLab Runner's s3v2 adapter gets from the AWS SDK): the
// canonical request over method, path, sorted query and the signed headers, the string to sign
// with the date scope, the HMAC chain from the secret key. Headers the uploader must send
// verbatim (server-side encryption, metadata) are signed too and returned with the URL. Pure:
// the time comes in.
import { createHash, createHmac } from "node:crypto";

export interface S3Target {
  /** `ServerAddress` (host[:port]); empty: AWS's regional endpoint. */
  serverAddress?: string;
  bucketName: string;
  /** `BucketLocation`; default us-east-1. */
  region?: string;
  /** `Insecure`: http instead of https. */
  insecure?: boolean;
  /** `PathStyle`: bucket in the path; default: path style for a custom ServerAddress, virtual host for AWS. */
  pathStyle?: boolean;
}

export interface PresignInput extends S3Target {
  accessKey: string;
  secretKey: string;
  sessionToken?: string;
  method: "GET" | "HEAD" | "PUT";
  objectName: string;
  expiresS: number;
  now: Date;
  /** Headers the request must carry, signed into the URL (lower-cased on the wire). */
  headers?: Record<string, string>;
}

export interface PresignedUrl {
  url: string;
  /** What the client must send with it. */
  headers: Record<string, string>;
}

/** RFC 3986 encoding as SigV4 wants it; `/` kept in paths. */
function uriEncode(s: string, keepSlash: boolean): string {
  let out = "";
  for (const byte of new TextEncoder().encode(s)) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === "/")) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const hmac = (key: string | Buffer, s: string) => createHmac("sha256", key).update(s).digest();

function amzDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

export function presignS3(input: PresignInput): PresignedUrl {
  const region = input.region || "us-east-1";
  const custom = (input.serverAddress ?? "") !== "";
  const pathStyle = input.pathStyle ?? custom;
  const server = custom
    ? input.serverAddress!
    : region === "us-east-1"
      ? "s3.amazonaws.com"
      : `s3.${region}.amazonaws.com`;
  const host = pathStyle ? server : `${input.bucketName}.${server}`;
  const key = input.objectName.replace(/^\/+/, "");
  const path = `/${pathStyle ? `${input.bucketName}/` : ""}${key}`;
  const stamp = amzDate(input.now);
  const day = stamp.slice(0, 8);
  const scope = `${day}/${region}/s3/aws4_request`;
  const headers: Record<string, string> = { host };
  for (const [k, v] of Object.entries(input.headers ?? {})) headers[k.toLowerCase()] = v.trim();
  const signedHeaders = Object.keys(headers).sort().join(";");
  const query: Record<string, string> = {
    "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
    "X-Amz-Credential": `${input.accessKey}/${scope}`,
    "X-Amz-Date": stamp,
    "X-Amz-Expires": String(input.expiresS),
    "X-Amz-SignedHeaders": signedHeaders,
  };
  if (input.sessionToken) query["X-Amz-Security-Token"] = input.sessionToken;
  const canonicalQuery = Object.keys(query)
    .sort()
    .map((k) => `${uriEncode(k, false)}=${uriEncode(query[k]!, false)}`)
    .join("&");
  const canonicalHeaders = Object.keys(headers)
    .sort()
    .map((k) => `${k}:${headers[k]}\n`)
    .join("");
  const canonical = [
    input.method,
    uriEncode(path, true),
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    "UNSIGNED-PAYLOAD",
  ].join("\n");
  const toSign = ["AWS4-HMAC-SHA256", stamp, scope, sha256(canonical)].join("\n");
  const kDate = hmac(`AWS4${input.secretKey}`, day);
  const kSigning = hmac(hmac(hmac(kDate, region), "s3"), "aws4_request");
  const signature = createHmac("sha256", kSigning).update(toSign).digest("hex");
  const { host: _host, ...send } = headers;
  return {
    url: `${input.insecure ? "http" : "https"}://${host}${uriEncode(path, true)}?${canonicalQuery}&X-Amz-Signature=${signature}`,
    headers: send,
  };
}

/** The headers GitLab Runner's s3v2 adapter bakes into a PUT: SSE and the cache key metadata. */
export function s3PutHeaders(o: {
  serverSideEncryption?: string;
  kmsKeyId?: string;
  cacheKey: string;
}): Record<string, string> {
  const h: Record<string, string> = { "x-amz-meta-cachekey": o.cacheKey };
  const sse = (o.serverSideEncryption ?? "").toUpperCase();
  if (sse === "S3" || sse === "AES256") h["x-amz-server-side-encryption"] = "AES256";
  else if (sse === "KMS" || sse === "AWS:KMS") {
    h["x-amz-server-side-encryption"] = "aws:kms";
    if (o.kmsKeyId) h["x-amz-server-side-encryption-aws-kms-key-id"] = o.kmsKeyId;
  } else if (sse === "DSSE-KMS" || sse === "AWS:KMS:DSSE") {
    h["x-amz-server-side-encryption"] = "aws:kms:dsse";
    if (o.kmsKeyId) h["x-amz-server-side-encryption-aws-kms-key-id"] = o.kmsKeyId;
  }
  return h;
}
