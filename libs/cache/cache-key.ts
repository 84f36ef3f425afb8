// Cache keys as GitLab Runner resolves them (runner-api.md (d) "Cache key → local file and remote
// object"; cache/cachekey and common/build.go): the job's key expanded, `<job name>/<ref>` when
// empty, then sanitised so it can never leave its directory — `%2F`/`%2E` decoded, `\` made `/`,
// `.`/`..` resolved inside a virtual root, trailing whitespace of the last segments trimmed. A
// changed key gives GitLab's warning; a key with nothing left is skipped with a notice. With
// FF_HASH_CACHE_KEYS the key is not sanitised but replaced by its SHA-256 (cacheNames). Pure.
import { createHash } from "node:crypto";

export type SanitizedKey = { ok: true; key: string; warning?: string } | { ok: false; notice: string };

export function sanitizeCacheKey(raw: string): SanitizedKey {
  const decoded = raw.replace(/%2F/gi, "/").replace(/%2E/gi, ".").replaceAll("\\", "/");
  const segments: string[] = [];
  for (const seg of decoded.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") segments.pop();
    else segments.push(seg);
  }
  while (segments.length > 0) {
    const last = segments[segments.length - 1]!.trimEnd();
    if (last !== "" && last !== "." && last !== "..") {
      segments[segments.length - 1] = last;
      break;
    }
    segments.pop();
  }
  const key = segments.join("/");
  if (key === "")
    return { ok: false, notice: `cache key ${JSON.stringify(raw)} could not be sanitized: nothing is left` };
  return key === raw
    ? { ok: true, key }
    : { ok: true, key, warning: `cache key ${JSON.stringify(raw)} sanitized to ${JSON.stringify(key)}` };
}

/** `CACHE_FALLBACK_KEY` may not name a protected cache (GitLab refuses it with a warning). */
export function fallbackKeyAllowed(key: string): boolean {
  return !key.replace(/[. ]+$/, "").endsWith("-protected");
}

export type CachePolicy = "pull" | "push" | "pull-push";

/** The expanded `policy`; empty means pull-push; anything else is an error naming it. */
export function parsePolicy(value: string): CachePolicy | { error: string } {
  const v = value.trim();
  if (v === "" || v === "pull-push") return "pull-push";
  if (v === "pull" || v === "push") return v;
  return { error: `unknown cache policy ${JSON.stringify(value)}: expected pull, push or pull-push` };
}

/** The candidate keys a restore tries in order: key, fallback_keys, then CACHE_FALLBACK_KEY. */
export function restoreCandidates(
  key: string,
  fallbackKeys: readonly string[],
  globalFallback: string | undefined,
): { keys: string[]; warnings: string[] } {
  const warnings: string[] = [];
  const keys = [key, ...fallbackKeys.filter((k) => k !== "")];
  if (globalFallback) {
    if (fallbackKeyAllowed(globalFallback)) keys.push(globalFallback);
    else
      warnings.push(
        `CACHE_FALLBACK_KEY ${JSON.stringify(globalFallback)} not allowed to end in "-protected"`,
      );
  }
  return { keys: [...new Set(keys)], warnings };
}

/** FF_HASH_CACHE_KEYS: the key's SHA-256, hex, names the archive and the object instead of the key. */
export function hashCacheKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** One naming of a cache: the archive dir / object key, and whether the object is sharded. */
export interface CacheName {
  /** The human key or its hash. */
  name: string;
  /** Named by the hash: the object sits under its first two hex characters. */
  hashed: boolean;
}

/**
 * The primary naming of a cache and the "other" one, tried as well so that caches survive
 * toggling FF_HASH_CACHE_KEYS (shells/abstract.go cacheAlternateKey): with the flag on the primary
 * is the hash and the alternate the human key; with it off, the reverse.
 */
export function cacheNames(humanKey: string, hashOn: boolean): { primary: CacheName; alternate: CacheName } {
  const human: CacheName = { name: humanKey, hashed: false };
  const hashed: CacheName = { name: hashCacheKey(humanKey), hashed: true };
  return hashOn ? { primary: hashed, alternate: human } : { primary: human, alternate: hashed };
}
