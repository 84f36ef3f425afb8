// Remote cache object names as GitLab Runner builds them (runner-api.md (d); cache/cache.go
// GetAdapter): `[Path/][runner/<short token>/]project/<project id>/[<shard>/]<key>`, the runner
// part dropped when the cache is `Shared`; a key named by its hash (FF_HASH_CACHE_KEYS) sits under
// its first two hex characters, spreading a project's objects over 256 prefixes. A key that would
// land outside `…/project/<id>/` is refused. Pure.
import { posix } from "node:path";

export function cacheObjectName(o: {
  path?: string;
  shared: boolean;
  shortToken: string;
  projectId: number;
  key: string;
  /** The key is a hash: shard it by its first two characters. */
  sharded?: boolean;
}): string | undefined {
  const base = posix.join(
    o.path ?? "",
    o.shared ? "" : posix.join("runner", o.shortToken),
    "project",
    String(o.projectId),
  );
  if (o.sharded && o.key.length < 2) return undefined;
  const full = o.sharded ? posix.join(base, o.key.slice(0, 2), o.key) : posix.join(base, o.key);
  if (!full.startsWith(`${base}/`) || full === base) return undefined;
  return full.replace(/^\/+/, "");
}
