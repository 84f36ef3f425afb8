// Finds keys in the raw TOML that the schema does not know. GitLab Runner's TOML decoder ignores
// them silently; we warn instead, since a misspelt key ("memroy") otherwise does nothing at all.
import type { z } from "zod";

type Path = PropertyKey[];
export interface UnknownKey {
  path: Path;
  /** The known key it most likely means, if any. */
  known: string[];
}

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
}

const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

const isTable = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date);

export function findUnknownKeys(schema: z.ZodType, value: unknown, path: Path = [], out: UnknownKey[] = []) {
  const def = defOf(schema);
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "catch":
    case "readonly":
    case "nonoptional":
      if (def.innerType) findUnknownKeys(def.innerType, value, path, out);
      break;
    case "pipe":
      if (def.in) findUnknownKeys(def.in, value, path, out);
      break;
    case "object": {
      if (!isTable(value) || !def.shape) break;
      // A catch-all (loose object) accepts any key.
      if (def.catchall && defOf(def.catchall).type !== "never") break;
      const known = Object.keys(def.shape);
      for (const [key, child] of Object.entries(value)) {
        const childSchema = def.shape[key];
        if (childSchema) findUnknownKeys(childSchema, child, [...path, key], out);
        else out.push({ path: [...path, key], known });
      }
      break;
    }
    case "array":
      if (Array.isArray(value) && def.element) {
        value.forEach((item, i) => {
          findUnknownKeys(def.element as z.ZodType, item, [...path, i], out);
        });
      }
      break;
    case "record":
      if (isTable(value) && def.valueType) {
        for (const [key, child] of Object.entries(value))
          findUnknownKeys(def.valueType, child, [...path, key], out);
      }
      break;
    default:
      // Leaves, unions of leaves and pass-through tables have no keys of their own to check.
      break;
  }
  return out;
}
