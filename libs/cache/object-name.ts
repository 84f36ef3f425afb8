// Remote cache object names as GitLab Runner builds them (runner-api.md (d); cache/cache.go
// getCacheObjectName): `[Path/][runner/<short token>/]project/<project id>/<key>`, the runner part
// dropped when the cache is `Shared`. A key that would land outside `…/project/<id>/` is refused.
// Pure.
import { posix } from "node:path";

export function cacheObjectName(o: {
  path?: string;
  shared: boolean;
  shortToken: string;
  projectId: number;
  key: string;
}): string | undefined {
  const base = posix.join(
    o.path ?? "",
    o.shared ? "" : posix.join("runner", o.shortToken),
    "project",
    String(o.projectId),
  );
  const full = posix.join(base, o.key);
  if (!full.startsWith(`${base}/`) || full === base) return undefined;
  return full.replace(/^\/+/, "");
}
