// The cache-signer as a tier: what it takes from config.toml is each runner entry's short token
// and its [runners.cache] (credentials included) — never a full runner token past this function.
// `runmesh run` starts it when some entry has an S3 cache; it serves over the process's bus.
import { readFileSync } from "node:fs";
import type { Bus } from "../../libs/bus/bus.ts";
import { type Config, shortToken } from "../../libs/config/index.ts";
import type { Logger } from "../../libs/log/logger.ts";
import type { SignerCache } from "./sign-decision.ts";
import { type CacheSigner, startCacheSigner } from "./signer.ts";

const SIGNED_TYPES = new Set(["s3", "s3v2", "gcs", "gcsv2"]);

/** Runner entries with a cache the signer can sign for, by short token. */
export function signerCaches(config: Pick<Config, "runners">): Map<string, SignerCache> {
  const caches = new Map<string, SignerCache>();
  for (const r of config.runners)
    if (r.cache && SIGNED_TYPES.has((r.cache.Type ?? "").toLowerCase()))
      caches.set(shortToken(r.token), withCredentialsFile(r.cache));
  return caches;
}

/** Starts the signer when there is something to sign for; undefined otherwise. */
export async function startCacheSignerService(o: {
  config: Pick<Config, "runners">;
  bus: Bus;
  logger: Logger;
}): Promise<CacheSigner | undefined> {
  const caches = signerCaches(o.config);
  if (caches.size === 0) return undefined;
  return startCacheSigner({ bus: o.bus, logger: o.logger.child({ component: "cache-signer" }), caches });
}

/** A GCS CredentialsFile (service-account JSON) read into AccessID and PrivateKey, once, at load. */
function withCredentialsFile(cache: SignerCache): SignerCache {
  const file = cache.gcs?.CredentialsFile;
  if (!file || (cache.gcs?.AccessID && cache.gcs.PrivateKey)) return cache;
  const json = JSON.parse(readFileSync(file, "utf8")) as { client_email?: string; private_key?: string };
  return { ...cache, gcs: { ...cache.gcs, AccessID: json.client_email, PrivateKey: json.private_key } };
}
