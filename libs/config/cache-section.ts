// [runners.cache] with its s3, gcs and azure tables. The credential keys are declared apart from
// the rest so that the settings a worker receives (runnerSettingsSchema) cannot contain them:
// only the cache-signer holds object-storage keys.
import { z } from "zod";
import { lazySection } from "./lazy-section.ts";
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
/** The [runners.cache.s3] keys, which GitLab Runner before 11.3 read directly under [runners.cache]. */
export const S3_KEYS: ReadonlySet<string> = new Set([...Object.keys(s3Settings), ...S3_SECRET_KEYS]);

const gcsSettings = { BucketName: optStr() };
export const GCS_SECRET_KEYS = ["AccessID", "PrivateKey", "CredentialsFile"] as const;
const gcsSecrets = { AccessID: optStr(), PrivateKey: optStr(), CredentialsFile: optStr() };

const azureSettings = { ContainerName: optStr(), StorageDomain: optStr() };
export const AZURE_SECRET_KEYS = ["AccountName", "AccountKey"] as const;
const azureSecrets = { AccountName: optStr(), AccountKey: optStr() };

/** The adapters GitLab Runner 19.4 registers (the adapter.go of each cache folder), matched exactly. */
export const CACHE_TYPES = ["s3", "s3v2", "gcs", "gcsv2", "azure"] as const;

const cacheBase = {
  // GitLab selects the adapter by Type, a free string: empty means no distributed cache, and a
  // type no adapter registered ("local", "S3") means a local-only cache, with an error logged at
  // job time; parse-config warns at load (CACHE_TYPES).
  Type: optStr(),
  Path: optStr(),
  Shared: bool().default(false),
  MaxUploadedArchiveSize: int().optional(),
};

const table = { error: "a table" } as const;

/** [runners.cache] as written in config.toml, credentials included. */
export const cacheSchema = lazySection(() =>
  z.object(
    {
      ...cacheBase,
      s3: z.object({ ...s3Settings, ...s3Secrets }, table).optional(),
      gcs: z.object({ ...gcsSettings, ...gcsSecrets }, table).optional(),
      azure: z.object({ ...azureSettings, ...azureSecrets }, table).optional(),
    },
    table,
  ),
);

/** [runners.cache] without any credential: what a worker may see. */
export const cacheSettingsSchema = lazySection(() =>
  z.object(
    {
      ...cacheBase,
      s3: z.object(s3Settings, table).optional(),
      gcs: z.object(gcsSettings, table).optional(),
      azure: z.object(azureSettings, table).optional(),
    },
    table,
  ),
);
