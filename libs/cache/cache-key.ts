// Cache keys as GitLab Runner resolves them (runner-api.md (d) "Cache key → local file and remote
// object"; cache/cachekey and common/build.go): the job's key expanded, `<job name>/<ref>` when
// empty, then sanitised so it can never leave its directory — `%2F`/`%2E` decoded, `\` made `/`,
// `.`/`..` resolved inside a virtual root, trailing whitespace of the last segments trimmed. A
// changed key gives GitLab's warning; a key with nothing left is skipped with a notice. Pure.

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
