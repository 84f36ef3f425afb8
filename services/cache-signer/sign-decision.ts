// What the cache-signer may sign, decided from the scheduler's record of the job alone: the job
// must be running on the asking worker; the key must be one of that job's cache keys (its key,
// fallback_keys, CACHE_FALLBACK_KEY, as GitLab sent them, sanitised as the worker does); GET/HEAD
// only for a key the job may pull, PUT only for one it may push; the object is named inside the
// job's own project. Everything else is refused with a reason naming the job, worker and key.
// Pure: the record, the runner's cache settings and the time come in.

import { azureBlobSas, azureBlobUrl, azurePutHeaders } from "../../libs/cache/azure-sas.ts";
import { hashCacheKey, parsePolicy, sanitizeCacheKey } from "../../libs/cache/cache-key.ts";
import { gcsPutHeaders, signGcsV2 } from "../../libs/cache/gcs-sign.ts";
import { cacheObjectName } from "../../libs/cache/object-name.ts";
import { presignS3, s3PutHeaders } from "../../libs/cache/s3-presign.ts";
import { parseJobPayload } from "../../libs/job/payload.ts";
import type { OpenedJobRecord } from "../../libs/messages/subjects.ts";

/** One runner entry's [runners.cache], credentials included: only the signer holds these. */
export interface SignerCache {
  Type?: string;
  Path?: string;
  Shared: boolean;
  s3?: {
    ServerAddress?: string;
    BucketName?: string;
    BucketLocation?: string;
    Insecure: boolean;
    PathStyle?: boolean;
    AuthenticationType?: string;
    ServerSideEncryption?: string;
    ServerSideEncryptionKeyID?: string;
    AccessKey?: string;
    SecretKey?: string;
    SessionToken?: string;
  };
  gcs?: { BucketName?: string; AccessID?: string; PrivateKey?: string; CredentialsFile?: string };
  azure?: { AccountName?: string; AccountKey?: string; ContainerName?: string; StorageDomain?: string };
  MaxUploadedArchiveSize?: number;
}

export interface SignRequest {
  workerId: string;
  jobKey: string;
  key: string;
  op: "get" | "head" | "put";
  /** FF_HASH_CACHE_KEYS naming: the object is the key's hash, sharded. */
  hashed?: boolean;
}

export type SignDecision =
  | { ok: true; url: string; headers: Record<string, string>; objectName: string }
  | { ok: false; reason: string };

const DEFAULT_TIMEOUT_S = 2 * 3600;

export function decideSign(o: {
  req: SignRequest;
  record: OpenedJobRecord | undefined;
  /** The runner entry's cache, found by the job's short token; undefined when none is configured. */
  cacheFor: (shortToken: string) => SignerCache | undefined;
  now: Date;
  /** STORAGE_EMULATOR_HOST, for GCS. */
  emulatorHost?: string;
}): SignDecision {
  const { req, record } = o;
  const who = `job ${req.jobKey}, worker ${JSON.stringify(req.workerId)}, key ${JSON.stringify(req.key)}`;
  const refuse = (why: string): SignDecision => ({ ok: false, reason: `${who}: ${why}` });
  if (!record) return refuse("the scheduler has no record of this job");
  if (record.state !== "running") return refuse(`the job is ${record.state}, not running`);
  if (record.workerId !== req.workerId)
    return refuse(`the job runs on worker ${JSON.stringify(record.workerId)}`);
  const parsed = parseJobPayload(record.job.payload);
  if (!parsed.ok) return refuse(`the job's payload cannot be read (${parsed.error})`);
  const job = parsed.job;
  // A job's key as the worker names it: sanitised, or as written when FF_HASH_CACHE_KEYS skips that.
  const sanitized = (k: string) => {
    const s = sanitizeCacheKey(k);
    return s.ok ? [s.key, k] : [k];
  };
  const fallbackVar = job.variables.findLast((v) => v.key === "CACHE_FALLBACK_KEY")?.value;
  let pull = false;
  let push = false;
  for (const c of job.cache) {
    if (c.paths.length === 0 && !c.untracked) continue;
    const policy = parsePolicy(c.policy);
    if (typeof policy === "object") continue;
    const keys = sanitized(c.key || `${job.job_info.name}/${job.git_info.ref}`);
    const fallbacks = [...c.fallback_keys, ...(fallbackVar ? [fallbackVar] : [])].flatMap(sanitized);
    if (keys.includes(req.key) && policy !== "push") pull = true;
    if (keys.includes(req.key) && policy !== "pull") push = true;
    if (policy !== "push" && fallbacks.includes(req.key)) pull = true;
  }
  if (req.op === "put" ? !push : !pull)
    return refuse(
      pull || push
        ? `${req.op.toUpperCase()} is not what this job's cache policy allows for the key`
        : "not one of this job's cache keys",
    );
  const cache = o.cacheFor(record.job.runner.short_token);
  const type = (cache?.Type ?? "").toLowerCase();
  if (cache && (type === "gcs" || type === "gcsv2"))
    return signGcs(cache, req, record, job.job_info.project_id, job.runner_info.timeout, o, refuse);
  if (cache && type === "azure")
    return signAzure(cache, req, record, job.job_info.project_id, job.runner_info.timeout, o, refuse);
  if (!cache?.s3 || !["s3", "s3v2"].includes((cache.Type ?? "").toLowerCase()))
    return refuse(`runner ${record.job.runner.short_token} has no S3 cache the signer can sign for`);
  const s3 = cache.s3;
  if (!s3.BucketName)
    return refuse(`runner ${record.job.runner.short_token}: [runners.cache.s3] BucketName is empty`);
  const iam =
    s3.AuthenticationType === "iam" ||
    (s3.AuthenticationType === undefined && !(s3.AccessKey && s3.SecretKey));
  if (iam || !s3.AccessKey || !s3.SecretKey)
    return refuse(
      `runner ${record.job.runner.short_token}: IAM credentials cannot be reached from here; set AccessKey and SecretKey`,
    );
  const objectName = jobObjectName(cache, req, record.job.runner.short_token, job.job_info.project_id);
  if (objectName === undefined) return refuse("the key would leave the project's cache folder");
  const method = req.op === "put" ? "PUT" : req.op === "head" ? "HEAD" : "GET";
  const signed = presignS3({
    serverAddress: s3.ServerAddress,
    bucketName: s3.BucketName,
    region: s3.BucketLocation,
    insecure: s3.Insecure,
    pathStyle: s3.PathStyle,
    accessKey: s3.AccessKey,
    secretKey: s3.SecretKey,
    sessionToken: s3.SessionToken,
    method,
    objectName,
    expiresS: urlLifetimeS(job.runner_info.timeout),
    now: o.now,
    headers:
      method === "PUT"
        ? s3PutHeaders({
            serverSideEncryption: s3.ServerSideEncryption,
            kmsKeyId: s3.ServerSideEncryptionKeyID,
            cacheKey: req.key,
          })
        : undefined,
  });
  return { ok: true, url: signed.url, headers: signed.headers, objectName };
}

/** GCS: V2 signed URLs from AccessID + PrivateKey (a CredentialsFile is read into them at load). */
function signGcs(
  cache: SignerCache,
  req: SignRequest,
  record: OpenedJobRecord,
  projectId: number,
  timeoutS: number,
  o: { now: Date; emulatorHost?: string },
  refuse: (why: string) => SignDecision,
): SignDecision {
  const token = record.job.runner.short_token;
  const gcs = cache.gcs;
  if (!gcs?.BucketName) return refuse(`runner ${token}: [runners.cache.gcs] BucketName is empty`);
  if (!gcs.AccessID || !gcs.PrivateKey)
    return refuse(
      `runner ${token}: GCS needs AccessID and PrivateKey (or CredentialsFile); ambient credentials cannot be reached from here`,
    );
  const objectName = jobObjectName(cache, req, token, projectId);
  if (objectName === undefined) return refuse("the key would leave the project's cache folder");
  const put = req.op === "put";
  const signed = signGcsV2({
    accessId: gcs.AccessID,
    privateKey: gcs.PrivateKey,
    bucket: gcs.BucketName,
    objectName,
    method: put ? "PUT" : req.op === "head" ? "HEAD" : "GET",
    expiresAt: new Date(o.now.getTime() + urlLifetimeS(timeoutS) * 1000),
    contentType: put ? "application/octet-stream" : undefined,
    headers: put ? gcsPutHeaders(req.key, cache.MaxUploadedArchiveSize ?? 0) : undefined,
    emulatorHost: o.emulatorHost,
  });
  return { ok: true, url: signed.url, headers: signed.headers, objectName };
}

/** Azure: a blob SAS from AccountName + AccountKey, r for GET/HEAD, w for PUT (cache/azure/azure.go). */
function signAzure(
  cache: SignerCache,
  req: SignRequest,
  record: OpenedJobRecord,
  projectId: number,
  timeoutS: number,
  o: { now: Date },
  refuse: (why: string) => SignDecision,
): SignDecision {
  const token = record.job.runner.short_token;
  const az = cache.azure;
  if (!az?.ContainerName) return refuse(`runner ${token}: [runners.cache.azure] ContainerName is empty`);
  if (!az.AccountName || !az.AccountKey)
    return refuse(
      `runner ${token}: Azure needs AccountName and AccountKey; Entra ID (user delegation) credentials cannot be reached from here`,
    );
  const objectName = jobObjectName(cache, req, token, projectId);
  if (objectName === undefined) return refuse("the key would leave the project's cache folder");
  const put = req.op === "put";
  const sas = azureBlobSas({
    accountName: az.AccountName,
    accountKey: az.AccountKey,
    container: az.ContainerName,
    blob: objectName,
    permissions: put ? "w" : "r",
    // GitLab: valid from an hour ago, for clock skew.
    start: new Date(o.now.getTime() - 3600_000),
    expiry: new Date(o.now.getTime() + urlLifetimeS(timeoutS) * 1000),
  });
  const url = azureBlobUrl({
    accountName: az.AccountName,
    storageDomain: az.StorageDomain,
    container: az.ContainerName,
    blob: objectName,
  });
  return { ok: true, url: `${url}?${sas}`, headers: put ? azurePutHeaders(req.key) : {}, objectName };
}

/** The object's last part: the key, or its hash under FF_HASH_CACHE_KEYS naming. */
function objectKey(req: SignRequest): string {
  return req.hashed ? hashCacheKey(req.key) : req.key;
}

/** The object a job's cache key names, as GitLab Runner builds it (undefined: it would escape). */
function jobObjectName(
  cache: SignerCache,
  req: SignRequest,
  shortToken: string,
  projectId: number,
): string | undefined {
  return cacheObjectName({
    path: cache.Path,
    shared: cache.Shared,
    shortToken,
    projectId,
    key: objectKey(req),
    sharded: req.hashed,
  });
}

/** A signed URL lives as long as the job may (its timeout), or the default when it has none. */
function urlLifetimeS(jobTimeoutS: number): number {
  return jobTimeoutS > 0 ? jobTimeoutS : DEFAULT_TIMEOUT_S;
}
