// [runners.cache] with its s3, gcs and azure tables. The credential keys are declared apart from
// the rest so that the settings a worker receives (runnerSettingsSchema) cannot contain them:
// only the cache-signer holds object-storage keys.
import { z } from "zod";
import { bool, int, oneOf, optStr } from "./schema-primitives.ts";

const s3Settings = {
  ServerAddress: optStr(),
  BucketName: optStr(),
  BucketLocation: optStr(),
  Insecure: bool().default(false),
  // Case-insensitive in GitLab (S3AuthType); absent means: access-key when ServerAddress,
  // AccessKey and SecretKey are all set, iam otherwise (resolved by the cache-signer).
  AuthenticationType: z
    .string({ error: `"iam" or "access-key"` })
    .transform((v) => v.toLowerCase())
    .pipe(oneOf(["iam", "access-key", ""]))
    .optional()
    .transform((v) => (v === "" ? undefined : v)),
  ServerSideEncryption: optStr(),
  ServerSideEncryptionKeyID: optStr(),
  DualStack: bool().default(true),
  Accelerate: bool().optional(),
  PathStyle: bool().optional(),
  UploadRoleARN: optStr(),
  RoleARN: optStr(),
};
export const S3_SECRET_KEYS = ["AccessKey", "SecretKey", "SessionToken"] as const;
const s3Secrets = { AccessKey: optStr(), SecretKey: optStr(), SessionToken: optStr() };

const gcsSettings = { BucketName: optStr() };
export const GCS_SECRET_KEYS = ["AccessID", "PrivateKey", "CredentialsFile"] as const;
const gcsSecrets = { AccessID: optStr(), PrivateKey: optStr(), CredentialsFile: optStr() };

const azureSettings = { ContainerName: optStr(), StorageDomain: optStr() };
export const AZURE_SECRET_KEYS = ["AccountName", "AccountKey"] as const;
const azureSecrets = { AccountName: optStr(), AccountKey: optStr() };

const cacheBase = {
  // GitLab selects the adapter by Type; an empty Type means no distributed cache.
  Type: oneOf(["s3", "gcs", "azure", ""])
    .optional()
    .transform((v) => (v === "" ? undefined : v)),
  Path: optStr(),
  Shared: bool().default(false),
  MaxUploadedArchiveSize: int().optional(),
};

const table = { error: "a table" } as const;

/** [runners.cache] as written in config.toml, credentials included. */
export const cacheSchema = z.object(
  {
    ...cacheBase,
    s3: z.object({ ...s3Settings, ...s3Secrets }, table).optional(),
    gcs: z.object({ ...gcsSettings, ...gcsSecrets }, table).optional(),
    azure: z.object({ ...azureSettings, ...azureSecrets }, table).optional(),
  },
  table,
);

/** [runners.cache] without any credential: what a worker may see. */
export const cacheSettingsSchema = z.object(
  {
    ...cacheBase,
    s3: z.object(s3Settings, table).optional(),
    gcs: z.object(gcsSettings, table).optional(),
    azure: z.object(azureSettings, table).optional(),
  },
  table,
);
