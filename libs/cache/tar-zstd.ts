// The tar+zstd cache archive (CACHE_COMPRESSION_FORMAT=tarzstd; GitLab Runner's
// commands/helpers/archive/tarzstd): a POSIX tar (ustar headers, PAX records for names that do not
// fit) of the selected files, directories and symlinks with their modes and times, zstd-compressed,
// streamed both ways so a big cache is never held in memory. Extraction keeps every path inside
// the project dir (a `..`, absolute or symlink-escaping name is refused with a warning), creates
// symlinks and sets directory times last, as GitLab's extractor does. The archive keeps the name
// cache.zip; readers tell the format by its first bytes (archiveFormatOf).

import { once } from "node:events";
import {
  closeSync,
  createReadStream,
  createWriteStream,
  lstatSync,
  mkdirSync,
  openSync,
  readlinkSync,
  readSync,
  realpathSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { constants, createZstdCompress, createZstdDecompress } from "node:zlib";
import { insideProject } from "../artifacts/artifact-files.ts";

export type ArchiveFormat = "zip" | "tarzstd" | "gzip";

/** By magic bytes, as the cache extractor tells them apart (zstd, gzip, else zip). Pure. */
export function archiveFormatOf(head: Uint8Array): ArchiveFormat {
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "tarzstd";
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  return "zip";
}

export function archiveFormatOfFile(file: string): ArchiveFormat {
  const fd = openSync(file, "r");
  try {
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, 0);
    return archiveFormatOf(head);
  } finally {
    closeSync(fd);
  }
}

const BLOCK = 512;

export interface TarEntry {
  name: string;
  type: "file" | "dir" | "symlink";
  mode: number;
  size: number;
  mtimeS: number;
  linkname?: string;
}

function octal(buf: Buffer, offset: number, length: number, value: number): void {
  buf.write(`${value.toString(8).padStart(length - 1, "0")}\0`, offset, length, "ascii");
}

/** One ustar header block. Pure. */
function headerBlock(e: {
  name: string;
  linkname: string;
  type: string;
  mode: number;
  size: number;
  mtimeS: number;
}) {
  const b = Buffer.alloc(BLOCK);
  b.write(e.name, 0, 100, "utf8");
  octal(b, 100, 8, e.mode & 0o7777);
  octal(b, 108, 8, 0);
  octal(b, 116, 8, 0);
  octal(b, 124, 12, e.size);
  octal(b, 136, 12, Math.floor(e.mtimeS));
  b.write(e.type, 156, 1, "ascii");
  b.write(e.linkname, 157, 100, "utf8");
  b.write("ustar\0", 257, 6, "ascii");
  b.write("00", 263, 2, "ascii");
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
  return b;
}

const fits = (s: string) => Buffer.byteLength(s) < 100;

/** The header blocks of one entry: a PAX record first when the name or link does not fit. Pure. */
export function tarHeaders(e: TarEntry): Buffer[] {
  const name = e.type === "dir" ? `${e.name}/` : e.name;
  const linkname = e.linkname ?? "";
  const out: Buffer[] = [];
  const records: string[] = [];
  if (!fits(name)) records.push(paxRecord("path", name));
  if (!fits(linkname)) records.push(paxRecord("linkpath", linkname));
  if (records.length > 0) {
    const body = Buffer.from(records.join(""));
    out.push(
      headerBlock({
        name: "PaxHeader",
        linkname: "",
        type: "x",
        mode: 0o644,
        size: body.length,
        mtimeS: e.mtimeS,
      }),
    );
    out.push(body, Buffer.alloc(pad(body.length)));
  }
  const type = e.type === "dir" ? "5" : e.type === "symlink" ? "2" : "0";
  out.push(
    headerBlock({
      name: fits(name) ? name : name.slice(0, 99),
      linkname: fits(linkname) ? linkname : "",
      type,
      mode: e.mode,
      size: e.type === "file" ? e.size : 0,
      mtimeS: e.mtimeS,
    }),
  );
  return out;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len)
    len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

const pad = (n: number) => (BLOCK - (n % BLOCK)) % BLOCK;

const zstdLevel = (zlibLevel: number) => (zlibLevel <= 1 ? 1 : zlibLevel <= 5 ? 3 : zlibLevel <= 7 ? 9 : 19);

/** Writes `files` (relative to baseDir, as selectFiles lists them) as tar+zstd into `out`. */
export async function writeTarZstd(
  baseDir: string,
  files: readonly string[],
  out: string,
  zlibLevel: number,
) {
  const zstd = createZstdCompress({ params: { [constants.ZSTD_c_compressionLevel]: zstdLevel(zlibLevel) } });
  const sink = createWriteStream(out);
  zstd.pipe(sink);
  const write = async (chunk: Buffer) => {
    if (!zstd.write(chunk)) await once(zstd, "drain");
  };
  for (const name of files) {
    const abs = join(baseDir, name);
    const st = lstatSync(abs);
    const base = { name, mode: st.mode, mtimeS: st.mtimeMs / 1000, size: 0 };
    if (st.isDirectory()) for (const b of tarHeaders({ ...base, type: "dir" })) await write(b);
    else if (st.isSymbolicLink())
      for (const b of tarHeaders({ ...base, type: "symlink", linkname: readlinkSync(abs) })) await write(b);
    else if (st.isFile()) {
      for (const b of tarHeaders({ ...base, type: "file", size: st.size })) await write(b);
      let written = 0;
      for await (const chunk of createReadStream(abs)) {
        await write(chunk as Buffer);
        written += (chunk as Buffer).length;
      }
      if (written !== st.size) throw new Error(`${name}: changed while it was archived`);
      await write(Buffer.alloc(pad(st.size)));
    }
  }
  await write(Buffer.alloc(BLOCK * 2));
  zstd.end();
  await once(sink, "close");
}

/** Pulls exact byte counts out of a chunked stream. */
class ByteSource {
  private chunks: Buffer[] = [];
  private buffered = 0;
  constructor(private readonly it: AsyncIterator<Buffer>) {}
  private async fill(n: number): Promise<boolean> {
    while (this.buffered < n) {
      const next = await this.it.next();
      if (next.done) return false;
      this.chunks.push(next.value);
      this.buffered += next.value.length;
    }
    return true;
  }
  async read(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) return undefined;
    const all = Buffer.concat(this.chunks);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.buffered = all.length - n;
    return all.subarray(0, n);
  }
  /** Up to `n` bytes, chunk by chunk, for file data. */
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buffered === 0 && !(await this.fill(1))) throw new Error("the archive ends inside a file");
      const head = this.chunks.shift()!;
      const part = head.length > left ? head.subarray(0, left) : head;
      if (head.length > left) this.chunks.unshift(head.subarray(left));
      this.buffered -= part.length;
      left -= part.length;
      yield part;
    }
  }
}

const str = (b: Buffer, o: number, l: number) => {
  const s = b.subarray(o, o + l);
  const end = s.indexOf(0);
  return s.subarray(0, end < 0 ? l : end).toString("utf8");
};
const num = (b: Buffer, o: number, l: number) => Number.parseInt(str(b, o, l).trim() || "0", 8);

/** PAX records: `<len> <key>=<value>\n`, the length in bytes and counting itself. Pure. */
export function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    const len = Number(body.subarray(at, space).toString("ascii"));
    if (space < 0 || !(len > 0)) break;
    const record = body.subarray(space + 1, at + len - 1).toString("utf8");
    const eq = record.indexOf("=");
    out[record.slice(0, eq)] = record.slice(eq + 1);
    at += len;
  }
  return out;
}

/** Extracts a tar+zstd archive into destDir; warnings for what it refused. */
export async function extractTarZstd(
  file: string,
  destDir: string,
): Promise<{ entries: number; warnings: string[] }> {
  const root = resolve(destDir);
  mkdirSync(root, { recursive: true });
  const realRoot = realpathSync(root);
  const src = new ByteSource(createReadStream(file).pipe(createZstdDecompress())[Symbol.asyncIterator]());
  const warnings: string[] = [];
  const deferred: { abs: string; entry: TarEntry }[] = [];
  let entries = 0;
  let pax: Record<string, string> = {};
  for (;;) {
    const h = await src.read(BLOCK);
    if (!h || h.every((b) => b === 0)) break;
    const type = String.fromCharCode(h[156]!);
    const size = num(h, 124, 12);
    if (type === "x" || type === "L" || type === "K") {
      const body = (await src.read(size + pad(size)))?.subarray(0, size);
      if (!body) throw new Error("the archive ends inside a header");
      if (type === "x") pax = { ...pax, ...parsePax(body) };
      else pax[type === "L" ? "path" : "linkpath"] = body.toString("utf8").replace(/\0+$/, "");
      continue;
    }
    const prefix = str(h, 345, 155);
    const rawName = pax.path ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
    const entry: TarEntry = {
      name: rawName.replace(/\/+$/, ""),
      type: type === "5" ? "dir" : type === "2" ? "symlink" : "file",
      mode: num(h, 100, 8),
      size,
      mtimeS: num(h, 136, 12),
      linkname: pax.linkpath ?? str(h, 157, 100),
    };
    pax = {};
    const skip = async () => {
      for await (const _ of src.take(size + pad(size))) {
      }
    };
    const rel = insideProject(entry.name);
    if (rel === undefined || rel === "." || !["0", "\0", "7", "5", "2"].includes(type)) {
      if (rel === undefined || rel === ".")
        warnings.push(`${entry.name}: refusing to extract outside ${destDir}`);
      await skip();
      continue;
    }
    const abs = join(root, rel);
    mkdirSync(dirname(abs), { recursive: true });
    const realParent = realpathSync(dirname(abs));
    if (realParent !== realRoot && !realParent.startsWith(`${realRoot}/`)) {
      warnings.push(`${entry.name}: its directory leads outside ${destDir} through a symlink; not extracted`);
      await skip();
      continue;
    }
    if (entry.type === "dir") {
      mkdirSync(abs, { recursive: true });
      deferred.push({ abs, entry });
    } else if (entry.type === "symlink") deferred.push({ abs, entry });
    else {
      try {
        if (!lstatSync(abs).isDirectory()) unlinkSync(abs);
      } catch {}
      const fd = openSync(abs, "w", entry.mode & 0o777 || 0o644);
      try {
        for await (const part of src.take(size)) writeSync(fd, part);
      } finally {
        closeSync(fd);
      }
      await src.read(pad(size));
      utimesSync(abs, entry.mtimeS, entry.mtimeS);
    }
    entries += 1;
  }
  // Symlinks and directory times last, deepest first.
  for (const { abs, entry } of deferred.reverse()) {
    if (entry.type === "symlink") {
      const target = entry.linkname ?? "";
      const resolved = resolve(dirname(abs), target);
      if (resolved !== root && !resolved.startsWith(`${root}/`)) {
        warnings.push(`${entry.name}: symlink to ${target} points outside ${destDir}; not extracted`);
        continue;
      }
      try {
        lstatSync(abs);
        warnings.push(`${entry.name}: already exists; not replaced by a symlink`);
        continue;
      } catch {}
      symlinkSync(target, abs);
    } else utimesSync(abs, entry.mtimeS, entry.mtimeS);
  }
  return { entries, warnings };
}
