// Which [runners.cache] tables the signer signs for: the adapters GitLab Runner signs URLs or SAS
// tokens with (s3/s3v2, gcs/gcsv2, azure), with a GCS CredentialsFile (service-account JSON) read
// into AccessID and PrivateKey once, at load, so a broken file is a load error naming the runner.
import { readFileSync } from "node:fs";
import type { z } from "zod";
import type { cacheSchema } from "../../libs/config/cache-section.ts";
import type { Config } from "../../libs/config/index.ts";
import { shortToken } from "../../libs/config/short-token.ts";
import type { SignerCache } from "./sign-decision.ts";

export const SIGNED_TYPES: ReadonlySet<string> = new Set(["s3", "s3v2", "gcs", "gcsv2", "azure"]);

/** The cache the signer keeps for one entry; undefined when its type is none it signs for. */
export function signedCache(cache: z.output<typeof cacheSchema>, where: string): SignerCache | undefined {
  if (!SIGNED_TYPES.has((cache.Type ?? "").toLowerCase())) return undefined;
  const file = cache.gcs?.CredentialsFile;
  if (!file || (cache.gcs?.AccessID && cache.gcs.PrivateKey)) return cache;
  let json: { client_email?: unknown; private_key?: unknown };
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new Error(`${where}: [runners.cache.gcs] CredentialsFile ${file}: cannot read it (${why})`);
  }
  if (typeof json.client_email !== "string" || typeof json.private_key !== "string")
    throw new Error(
      `${where}: [runners.cache.gcs] CredentialsFile ${file}: expected a service-account JSON with client_email and private_key`,
    );
  return { ...cache, gcs: { ...cache.gcs, AccessID: json.client_email, PrivateKey: json.private_key } };
}

/** `runmesh run`: the caches of the config the process already loaded, by short token. */
export function signerCaches(config: Pick<Config, "runners">): Map<string, SignerCache> {
  const caches = new Map<string, SignerCache>();
  config.runners.forEach((r, i) => {
    const cache = r.cache && signedCache(r.cache, `runner ${JSON.stringify(r.name)} (runners[${i}])`);
    if (cache) caches.set(shortToken(r.token), cache);
  });
  return caches;
}
