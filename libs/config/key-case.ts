// BurntSushi/toml, which GitLab Runner decodes config.toml with, sets a struct field from a key
// that names it exactly or, when no field matches exactly, from one that matches it
// case-insensitively (strings.EqualFold): `type = "s3"` under [runners.cache] sets Type. This
// pass renames such keys in the raw document to the schema's spelling before zod reads it, and
// remembers what the file wrote so that messages quote the file, not the schema.
import type { z } from "zod";
import { type Path, walkTables } from "./schema-walk.ts";

/** Two keys of one table that set the same field; GitLab Runner keeps either, at random. */
export interface KeyCaseClash {
  /** The field's path (schema spelling). */
  path: Path;
  /** The keys as written, the one runmesh keeps first. */
  written: string[];
}

/** Table object → schema key → key as written, for the keys this pass renamed. */
const writtenKeys = new WeakMap<object, Map<string, string>>();

/** Renames keys in `raw` (in place, order kept) to the schema's spelling; returns the clashes. */
export function matchKeyCase(schema: z.ZodType, raw: unknown): KeyCaseClash[] {
  const clashes: KeyCaseClash[] = [];
  walkTables(schema, raw, (table, shape, path) => {
    const fields = Object.keys(shape);
    const fieldFor = (key: string) =>
      Object.hasOwn(shape, key) ? key : fields.find((f) => f.toLowerCase() === key.toLowerCase());
    // Each field with the keys that set it, in the order the file wrote them.
    const groups = new Map<string, string[]>();
    const order: string[] = [];
    for (const key of Object.keys(table)) {
      const field = fieldFor(key);
      if (field === undefined) order.push(key);
      else if (groups.has(field)) groups.get(field)?.push(key);
      else {
        groups.set(field, [key]);
        order.push(field);
      }
    }
    const renamed = new Map<string, string>();
    const keep = new Map<string, string>();
    for (const [field, keys] of groups) {
      // The exact spelling wins; otherwise the first one written.
      const kept = keys.includes(field) ? field : (keys[0] as string);
      keep.set(field, kept);
      if (kept !== field) renamed.set(field, kept);
      if (keys.length > 1)
        clashes.push({ path: [...path, field], written: [kept, ...keys.filter((k) => k !== kept)] });
    }
    if (renamed.size === 0 && order.length === Object.keys(table).length) return;
    const values = order.map((key) => [key, table[keep.get(key) ?? key]] as const);
    for (const key of Object.keys(table)) delete table[key];
    for (const [key, value] of values) table[key] = value;
    writtenKeys.set(table, renamed);
  });
  return clashes;
}

/** `path` (schema spelling, in a document matchKeyCase renamed) as the file wrote it. */
export function writtenPath(root: unknown, path: readonly PropertyKey[]): PropertyKey[] {
  const out: PropertyKey[] = [];
  let node = root;
  for (const segment of path) {
    const table =
      node !== null && typeof node === "object" ? (node as Record<PropertyKey, unknown>) : undefined;
    out.push((typeof segment === "string" && table && writtenKeys.get(table)?.get(segment)) || segment);
    node = table?.[segment];
  }
  return out;
}
