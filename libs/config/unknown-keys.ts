// Finds keys in the raw TOML that the schema does not know (after keys have been matched
// case-insensitively, see key-case.ts). GitLab Runner's TOML decoder drops them silently; we
// warn instead, since a misspelt key ("memroy") otherwise does nothing at all.
import type { z } from "zod";
import { type Path, walkTables } from "./schema-walk.ts";

export interface UnknownKey {
  path: Path;
  /** The keys the table does know, for "did you mean". */
  known: string[];
}

export function findUnknownKeys(schema: z.ZodType, value: unknown): UnknownKey[] {
  const out: UnknownKey[] = [];
  walkTables(schema, value, (table, shape, path) => {
    const known = Object.keys(shape);
    for (const key of Object.keys(table)) {
      if (!Object.hasOwn(shape, key)) out.push({ path: [...path, key], known });
    }
  });
  return out;
}
