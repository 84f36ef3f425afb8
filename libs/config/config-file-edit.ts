// Edits to a GitLab Runner config.toml that runmesh's CLI makes (register, unregister,
// verify --delete, reset-token), done on the text so that everything else stays byte for byte:
// comments, blank lines, key order, quoting, and every table the edit does not touch. GitLab
// Runner re-encodes the whole file (comments lost); smol-toml cannot round-trip comments either,
// so runmesh edits lines and then proves the edit: the new text must parse to exactly the
// document the edit meant. When it does not (a layout the line scanner misreads, e.g. a
// `[[runners]]` header inside a multi-line string), the file is re-encoded by smol-toml instead:
// values and table order kept, comments and formatting lost, and the result says so.
// Writes are atomic: a temporary file in the same directory, fsync, rename.
import { randomInt } from "node:crypto";
import { open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { parse, stringify } from "smol-toml";

type Doc = Record<string, unknown>;

export interface EditResult {
  text: string;
  /** False when the edit fell back to re-encoding the whole file (comments and layout lost). */
  preserved: boolean;
}

/** One `[[runners]]` entry's lines: [start, end), its sub-tables included. */
interface Span {
  start: number;
  end: number;
}

const HEADER = /^\s*(\[\[?)\s*([A-Za-z0-9_\-."' ]+?)\s*\]\]?\s*(#.*)?$/;

function headerKey(line: string): { array: boolean; key: string } | undefined {
  const m = HEADER.exec(line);
  if (!m) return undefined;
  const key = (m[2] as string)
    .split(".")
    .map((p) => p.trim().replace(/^["']|["']$/g, ""))
    .join(".");
  return { array: m[1] === "[[", key };
}

/** The line spans of the `[[runners]]` entries, in file order, skipping multi-line strings. */
export function runnerSpans(lines: readonly string[]): Span[] {
  const spans: Span[] = [];
  let current: Span | undefined;
  let inString: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (inString) {
      if (countOf(line, inString) % 2 === 1) inString = undefined;
      continue;
    }
    const header = headerKey(line);
    if (header) {
      const belongs = header.key.startsWith("runners.");
      if (header.array && header.key === "runners") {
        if (current) spans.push(close(current, i, lines));
        current = { start: i, end: lines.length };
      } else if (current && !belongs) {
        spans.push(close(current, i, lines));
        current = undefined;
      }
    }
    for (const q of ['"""', "'''"]) if (countOf(line, q) % 2 === 1) inString = q;
  }
  if (current) spans.push(close(current, lines.length, lines));
  return spans;
}

function countOf(line: string, needle: string): number {
  return line.split(needle).length - 1;
}

/** An entry ends before the comments and blank lines that lead into the next header. */
function close(span: Span, next: number, lines: readonly string[]): Span {
  let end = next;
  if (next < lines.length) while (end - 1 > span.start && /^\s*(#.*)?$/.test(lines[end - 1] as string)) end--;
  return { start: span.start, end };
}

/** Normalises dates to strings so two parsed documents compare by value. */
function plain(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value as Doc).map(([k, v]) => [k, plain(v)]));
  return value;
}

function runnersOf(doc: Doc): Doc[] {
  return Array.isArray(doc.runners) ? (doc.runners as Doc[]) : [];
}

function settle(candidate: string, expected: Doc): EditResult {
  try {
    if (Bun.deepEquals(plain(parse(candidate)), plain(expected), true))
      return { text: candidate, preserved: true };
  } catch {
    // fall through to the re-encoding
  }
  return { text: stringify(expected), preserved: false };
}

/** Removes the runner entries at these indexes (their order in the file), sub-tables included. */
export function removeRunners(text: string, indexes: readonly number[]): EditResult {
  const doc = parse(text) as Doc;
  const expected: Doc = { ...doc, runners: runnersOf(doc).filter((_, i) => !indexes.includes(i)) };
  if (runnersOf(expected).length === 0) delete expected.runners;
  const lines = text.split("\n");
  const spans = runnerSpans(lines);
  if (spans.length !== runnersOf(doc).length) return settle("", expected);
  const drop = new Set<number>();
  for (const i of indexes) {
    const span = spans[i];
    if (!span) continue;
    for (let l = span.start; l < span.end; l++) drop.add(l);
    // One blank line that separated this entry from the previous one goes with it.
    if (span.start > 0 && /^\s*$/.test(lines[span.start - 1] as string)) drop.add(span.start - 1);
  }
  return settle(lines.filter((_, i) => !drop.has(i)).join("\n"), expected);
}

/** `key = value` in TOML, a Date as a TOML offset date-time in whole seconds (as GitLab Runner writes). */
export function tomlKeyValue(key: string, value: string | number | boolean | Date): string {
  if (value instanceof Date) return `${key} = ${value.toISOString().replace(/\.\d{3}Z$/, "Z")}`;
  return stringify({ [key]: value }).trim();
}

/**
 * Sets (or, with `undefined`, removes) top-level keys of one runner entry, e.g. the token and its
 * dates after a reset. A key not there yet goes after the entry's `token` line (else after the
 * header).
 */
export function setRunnerKeys(
  text: string,
  index: number,
  keys: Record<string, string | number | boolean | Date | undefined>,
): EditResult {
  const doc = parse(text) as Doc;
  const entries = runnersOf(doc);
  const entry = entries[index];
  if (!entry) throw new Error(`config has no runner entry #${index + 1}`);
  const updated: Doc = { ...entry };
  for (const [k, v] of Object.entries(keys)) {
    if (v === undefined) delete updated[k];
    else updated[k] = v instanceof Date ? new Date(Math.floor(v.getTime() / 1000) * 1000) : v;
  }
  const expected: Doc = { ...doc, runners: entries.map((e, i) => (i === index ? updated : e)) };
  const lines = text.split("\n");
  const span = runnerSpans(lines)[index];
  if (!span || runnerSpans(lines).length !== entries.length) return settle("", expected);
  // The entry's own keys end at its first sub-table header.
  let ownEnd = span.end;
  for (let l = span.start + 1; l < span.end; l++)
    if (headerKey(lines[l] as string)) {
      ownEnd = l;
      break;
    }
  const out = [...lines];
  const keyLine = (k: string) => {
    const re = new RegExp(`^\\s*["']?${k.replace(/[-.]/g, "\\$&")}["']?\\s*=`);
    for (let l = span.start + 1; l < ownEnd; l++) if (re.test(out[l] as string)) return l;
    return -1;
  };
  const indent = /^(\s*)/.exec(out[span.start + 1] ?? "")?.[1] ?? "";
  let lastInserted = -1;
  for (const [k, v] of Object.entries(keys)) {
    const at = keyLine(k);
    if (v === undefined) {
      if (at >= 0) {
        out.splice(at, 1);
        ownEnd--;
      }
      continue;
    }
    const line = `${indent}${tomlKeyValue(k, v)}`;
    if (at >= 0) out[at] = line;
    else {
      const tokenAt = keyLine("token");
      const after = Math.max(tokenAt >= 0 ? tokenAt : span.start, lastInserted);
      out.splice(after + 1, 0, line);
      lastInserted = after + 1;
      ownEnd++;
    }
  }
  return settle(out.join("\n"), expected);
}

/** Appends a runner entry (with its sub-tables) at the end of the file. */
export function appendRunner(text: string, entry: Doc): EditResult {
  const doc = text.trim() === "" ? {} : (parse(text) as Doc);
  const expected: Doc = { ...doc, runners: [...runnersOf(doc), entry] };
  const block = stringify({ runners: [entry] }).trimEnd();
  const base = text === "" ? "" : text.endsWith("\n") ? text : `${text}\n`;
  return settle(`${base}${base.trim() === "" ? "" : "\n"}${block}\n`, expected);
}

/**
 * Replaces `path` with `text` atomically: written to a temporary file beside it (same mode as the
 * old file, else 0600: the file holds tokens), flushed, then renamed over it. A reader sees the
 * old file or the new one, never a part.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const mode = await stat(path).then(
    (s) => s.mode & 0o777,
    () => 0o600,
  );
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomInt(1e9)}.tmp`);
  const handle = await open(temporary, "wx", mode);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } catch (e) {
    await handle.close();
    await rm(temporary, { force: true });
    throw e;
  }
  await handle.close();
  try {
    await rename(temporary, path);
  } catch (e) {
    await rm(temporary, { force: true });
    throw e;
  }
}
