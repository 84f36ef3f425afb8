// What `runmesh cache-signer` reads from config.toml, through its own allowlist (issue 10): the
// [mesh] table (how to reach NATS), the global log settings, and of each [[runners]] entry only
// its [runners.cache] table and its short token — the full runner token is cut to its short form
// the moment it is read and never kept, so the signer cannot talk to GitLab as a runner. The rest
// of the file (executors, tokens, other secrets) is dropped unread. Keys match case-insensitively
// and $VAR in the token expands, as GitLab Runner reads them, so the short token is the same.
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { parse, TomlError } from "smol-toml";
import { cacheSchema } from "../../libs/config/cache-section.ts";
import { ConfigError } from "../../libs/config/config-error.ts";
import { goExpandEnv } from "../../libs/config/go-expand-env.ts";
import { matchKeyCase } from "../../libs/config/key-case.ts";
import { type MeshConfig, meshSchema, resolveMesh } from "../../libs/config/mesh-schema.ts";
import { shortToken } from "../../libs/config/short-token.ts";
import type { SignerCache } from "./sign-decision.ts";
import { signedCache } from "./signed-caches.ts";

export interface SignerSettings {
  /** Each entry's cache the signer can sign for, by short token. */
  caches: Map<string, SignerCache>;
  mesh: MeshConfig;
  logLevel?: string;
  logFormat?: string;
  warnings: string[];
}

const isTable = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Parses config.toml text through the signer's allowlist. Throws ConfigError listing every problem. */
export function parseSignerSettings(
  text: string,
  o: { source: string; nats?: string; env?: Record<string, string | undefined> },
): SignerSettings {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError([`${o.source}: ${e instanceof TomlError ? e.message : String(e)}`]);
  }
  const problems: string[] = [];
  const warnings: string[] = [];
  const caches = new Map<string, SignerCache>();
  const runners = Array.isArray(doc.runners) ? doc.runners : [];
  runners.forEach((entry, i) => {
    if (!isTable(entry)) return;
    const name = typeof entry.name === "string" ? entry.name : "";
    const where = `${o.source}: runner ${JSON.stringify(name)} (runners[${i}])`;
    const rawToken = typeof entry.token === "string" ? goExpandEnv(entry.token, o.env ?? process.env) : "";
    const cacheTable = Object.entries(entry).find(([k]) => k.toLowerCase() === "cache")?.[1];
    if (!rawToken || !isTable(cacheTable)) return;
    const short = shortToken(rawToken);
    matchKeyCase(cacheSchema, cacheTable);
    const parsed = cacheSchema.safeParse(cacheTable);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        problems.push(`${where}: [runners.cache] ${issue.path.join(".")}: expected ${issue.message}`);
      return;
    }
    try {
      const cache = signedCache(parsed.data, where);
      if (cache) caches.set(short, cache);
    } catch (e) {
      problems.push((e as Error).message);
    }
  });
  const meshTable = isTable(doc.mesh) ? doc.mesh : {};
  const mesh = meshSchema.safeParse(o.nats ? { ...meshTable, nats_url: o.nats } : meshTable);
  if (!mesh.success)
    for (const issue of mesh.error.issues)
      problems.push(`${o.source}: [mesh] ${issue.path.join(".")}: expected ${issue.message}`);
  if (problems.length > 0 || !mesh.success) throw new ConfigError(problems);
  if (caches.size === 0)
    warnings.push(
      `${o.source}: no [[runners]] entry has an S3, GCS or Azure [runners.cache] with credentials: the cache-signer has nothing to sign until the file gains one`,
    );
  return {
    caches,
    mesh: resolveMesh(mesh.data, { concurrent: 1, hostname: hostname() }),
    logLevel: typeof doc.log_level === "string" ? doc.log_level : undefined,
    logFormat: typeof doc.log_format === "string" ? doc.log_format : undefined,
    warnings,
  };
}

export async function loadSignerSettings(path: string, o: { nats?: string } = {}): Promise<SignerSettings> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new ConfigError([`${path}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? e})`]);
  }
  return parseSignerSettings(text, { source: path, nats: o.nats });
}
