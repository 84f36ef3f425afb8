// Turns a location in config.toml (a key path) into the words a user sees:
//   config.toml: runner "docker-1" (runners[0]): [runners.docker] memory: expected …, got "lots"

type Path = readonly PropertyKey[];

const BARE_KEY = /^[A-Za-z0-9_-]+$/;
const quoteKey = (k: string) => (BARE_KEY.test(k) ? k : JSON.stringify(k));

/** The value at `path` in the raw TOML document, or undefined. */
export function valueAt(root: unknown, path: Path): unknown {
  let node = root;
  for (const segment of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  return node;
}

/** A short rendering of a TOML value for "got …". */
export function renderValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean")
    return String(value);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) {
    const inner = value.map(renderValue).join(", ");
    return inner.length > 60 ? `an array of ${value.length} values` : `[${inner}]`;
  }
  if (typeof value === "object") return "a table";
  return String(value);
}

/** "file: runner … : [table] key" — the location part of a problem line. */
export function describeLocation(source: string, root: unknown, path: Path): string {
  let rest = path;
  let who = "";
  let table: string[] = [];
  if (path[0] === "runners" && typeof path[1] === "number") {
    const index = path[1];
    const name = valueAt(root, ["runners", index, "name"]);
    who =
      typeof name === "string" && name !== ""
        ? `runner ${JSON.stringify(name)} (runners[${index}]): `
        : `runner with no name (runners[${index}]): `;
    rest = path.slice(2);
    table = ["runners"];
  }

  // Keys become dotted parts; array indexes stick to the key they index ("services[1]").
  const parts: string[] = [];
  for (const segment of rest) {
    if (typeof segment === "number" && parts.length > 0) parts[parts.length - 1] += `[${segment}]`;
    else parts.push(quoteKey(String(segment)));
  }

  if (parts.length === 0) {
    // The entry itself (runners[3] = "x") or the whole document.
    return who ? `${source}: ${who}[[runners]]` : `${source}`;
  }
  const key = parts[parts.length - 1] as string;
  const header = [...table, ...parts.slice(0, -1)];
  let tableLabel = "";
  if (header.length === 1 && header[0] === "runners") tableLabel = "[[runners]] ";
  else if (header.length > 0) tableLabel = `[${header.join(".")}] `;
  return `${source}: ${who}${tableLabel}${key}`;
}

/** Levenshtein distance, for "did you mean" on unknown keys. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number;
      row[j] = Math.min(
        (row[j] as number) + 1,
        (row[j - 1] as number) + 1,
        previous + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1),
      );
      previous = current;
    }
  }
  return row[b.length] as number;
}

export function closestKey(key: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 4)) + 1;
  for (const candidate of known) {
    const d = editDistance(key, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}
