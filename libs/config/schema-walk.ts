// Walks a raw TOML document alongside the zod schema that will read it, visiting every table the
// schema reads as a struct (a z.object with fixed keys) with that object's shape. Tables read as
// maps (z.record: feature_flags, plugin_config, …) and loose objects are not visited: their keys
// are data, not field names. Used to find unknown keys and to match keys case-insensitively.
import type { z } from "zod";

export type Path = PropertyKey[];
export type Shape = Record<string, z.ZodType>;
export type TableVisitor = (table: Record<string, unknown>, shape: Shape, path: Path) => void;

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Shape;
  catchall?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  getter?: () => z.ZodType;
}

const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

export const isTable = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date);

/** Calls `visit` on each struct table before descending into it (so a visitor may rename keys). */
export function walkTables(schema: z.ZodType, value: unknown, visit: TableVisitor, path: Path = []): void {
  const def = defOf(schema);
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "catch":
    case "readonly":
    case "nonoptional":
      if (def.innerType) walkTables(def.innerType, value, visit, path);
      break;
    case "pipe":
      if (def.in) walkTables(def.in, value, visit, path);
      break;
    case "lazy":
      // A section built on first use (lazy-section.ts): only a table the file has builds it.
      if (value !== undefined && def.getter) walkTables(def.getter(), value, visit, path);
      break;
    case "object": {
      if (!isTable(value) || !def.shape) break;
      // A catch-all (loose object) accepts any key.
      if (def.catchall && defOf(def.catchall).type !== "never") break;
      visit(value, def.shape, path);
      for (const [key, child] of Object.entries(value)) {
        const childSchema = Object.hasOwn(def.shape, key) ? def.shape[key] : undefined;
        if (childSchema) walkTables(childSchema, child, visit, [...path, key]);
      }
      break;
    }
    case "array":
      if (Array.isArray(value) && def.element) {
        value.forEach((item, i) => {
          walkTables(def.element as z.ZodType, item, visit, [...path, i]);
        });
      }
      break;
    case "record":
      if (isTable(value) && def.valueType) {
        for (const [key, child] of Object.entries(value))
          walkTables(def.valueType, child, visit, [...path, key]);
      }
      break;
    default:
      // Leaves, unions of leaves and preprocessed leaves have no keys of their own to check.
      break;
  }
}
