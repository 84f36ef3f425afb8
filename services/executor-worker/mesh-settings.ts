// A worker's settings: the [mesh] table only. A worker may be given a full config.toml; it
// takes [mesh] from it and drops the rest unread, so runner tokens never enter its settings.
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { parse, TomlError } from "smol-toml";
import { ConfigError, type MeshConfig } from "../../libs/config/index.ts";
import { meshSchema, resolveMesh } from "../../libs/config/mesh-schema.ts";

export type MeshOverrides = Partial<Pick<MeshConfig, "nats_url" | "name" | "worker_slots" | "builds_dir">>;

export async function loadMeshSettings(
  path: string | undefined,
  overrides: MeshOverrides,
): Promise<{ mesh: MeshConfig; warnings: string[]; listenAddress?: string }> {
  let table: Record<string, unknown> = {};
  let concurrent = 1;
  // The global listen_address (metrics): a worker given a full config.toml serves where it says.
  let listenAddress: string | undefined;
  if (path) {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (e) {
      throw new ConfigError([`${path}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? e})`]);
    }
    let doc: Record<string, unknown>;
    try {
      doc = parse(text, { integersAsBigInt: "asNeeded" }) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError([`${path}: ${e instanceof TomlError ? e.message : String(e)}`]);
    }
    table = (doc.mesh as Record<string, unknown> | undefined) ?? {};
    if (typeof doc.concurrent === "number" && doc.concurrent > 0) concurrent = doc.concurrent;
    if (typeof doc.listen_address === "string") listenAddress = doc.listen_address;
  }
  const clean = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const parsed = meshSchema.safeParse({ ...table, ...clean });
  if (!parsed.success) {
    const where = path ?? "command line";
    throw new ConfigError(
      parsed.error.issues.map(
        (i) =>
          `${where}: [mesh] ${i.path.join(".")}: expected ${i.message}, got ${JSON.stringify(valueAt(table, i.path))}`,
      ),
    );
  }
  return {
    mesh: resolveMesh(parsed.data, { concurrent, hostname: hostname() }),
    warnings: [],
    listenAddress,
  };
}

function valueAt(obj: unknown, path: PropertyKey[]): unknown {
  let v: unknown = obj;
  for (const k of path) v = v && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return typeof v === "bigint" ? String(v) : v;
}
