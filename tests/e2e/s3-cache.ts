// The S3 side of the cache-signer e2e tests: a SigV4-verifying S3 server (@20minutes/s3rver, in
// process on 127.0.0.1) with one bucket and one key pair, the runner entry's [runners.cache] that
// points at it, and the cache-signer started beside an in-process mesh with that mesh's caches.
// One fixture, so each test states only what differs (bucket, Path, Shared, the signer's log).
import { createRequire } from "node:module";
import { join } from "node:path";
import { shortToken } from "../../libs/config/index.ts";
import { createLogger } from "../../libs/log/logger.ts";
import type { SignerCache } from "../../services/cache-signer/sign-decision.ts";
import { type CacheSigner, startCacheSigner } from "../../services/cache-signer/signer.ts";
import type { Mesh } from "./mesh-harness.ts";

export interface S3Server {
  port: number;
  /** Where s3rver keeps the bucket's objects on disk (one folder per bucket). */
  bucketDir: string;
  /** The runner entry's lines for this bucket: an optional cache_dir, [runners.cache], [runners.cache.s3]. */
  runnerCache(o?: { cacheDir?: string; path?: string; shared?: boolean; location?: string }): string;
  close(): Promise<void>;
}

export async function startS3(o: {
  root: string;
  bucket: string;
  access: string;
  secret: string;
}): Promise<S3Server> {
  const require = createRequire(import.meta.url);
  const S3rver = require("@20minutes/s3rver");
  require("@20minutes/s3rver/lib/models/account").DUMMY_ACCOUNT.createKeyPair(o.access, o.secret);
  const directory = join(o.root, "s3");
  const s3 = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: o.bucket }],
  });
  const { port } = (await s3.run()) as { port: number };
  return {
    port,
    bucketDir: join(directory, o.bucket),
    runnerCache: (c = {}) =>
      [
        ...(c.cacheDir ? [`cache_dir = ${JSON.stringify(c.cacheDir)}`] : []),
        "[runners.cache]",
        'Type = "s3"',
        ...(c.path ? [`Path = ${JSON.stringify(c.path)}`] : []),
        ...(c.shared ? ["Shared = true"] : []),
        "[runners.cache.s3]",
        `ServerAddress = "127.0.0.1:${port}"`,
        `BucketName = ${JSON.stringify(o.bucket)}`,
        ...(c.location ? [`BucketLocation = ${JSON.stringify(c.location)}`] : []),
        "Insecure = true",
        `AccessKey = ${JSON.stringify(o.access)}`,
        `SecretKey = ${JSON.stringify(o.secret)}`,
      ].join("\n"),
    close: () => s3.close(),
  };
}

/** The cache-signer on an in-process mesh's bus, holding its runner entries' caches. */
export function startMeshSigner(mesh: Mesh, log?: (line: string) => void): Promise<CacheSigner> {
  const caches = new Map<string, SignerCache>();
  for (const r of mesh.config.runners) if (r.cache) caches.set(shortToken(r.token), r.cache as SignerCache);
  return startCacheSigner({
    bus: mesh.buses[0]!,
    logger: createLogger({
      service: "cache-signer",
      level: log ? "debug" : "warn",
      destination: { write: (l: string) => log?.(l) },
    }),
    caches,
  });
}
