// A config.toml table whose schema is built the first time a file has that table (issue 13: the
// executor, cache and autoscaler sections are ~1,000 zod schemas and most files use one executor;
// built only when present, each tier idles 1.3–2.2 MB lower: README's binaries section). zod's
// z.lazy defers the build, but an optional key asks its schema's optin/optout, and a lazy answers
// those by building; a table (a z.object, or one piped into a transform) is neither optional nor
// defaulted itself, so the answers are given up front.
import { z } from "zod";

export function lazySection<T extends z.ZodType>(build: () => T): z.ZodLazy<T> {
  let built: T | undefined;
  // Built once, whether zod or a caller (`.unwrap().omit(…)`) asks first.
  const schema = z.lazy(() => (built ??= build()));
  for (const key of ["optin", "optout"] as const)
    Object.defineProperty(schema._zod, key, { value: undefined, writable: true, configurable: true });
  return schema;
}
