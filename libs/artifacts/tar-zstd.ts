// tar.zst archives: GitLab Runner's `tarzstd` cache format (CACHE_COMPRESSION_FORMAT=tarzstd,
// commands/helpers/archive/tarzstd). Written as POSIX ustar with PAX records for long names and
// link targets, through node:zlib's streaming zstd; read back streaming (never the whole archive
// in memory) with the same refusals as zip extraction: names leaving the dir, parents that are
// symlinks leading out, symlinks pointing out; existing files are replaced, never written through.
import {
  createReadStream,
  createWriteStream,
  lstatSync,
  mkdirSync,
  readlinkSync,
  realpathSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { constants, createZstdCompress, createZstdDecompress } from "node:zlib";
import { insideProject } from "./artifact-files.ts";
import type { ExtractResult } from "./zip-archive.ts";
import { parentInside } from "./zip-archive.ts";

const BLOCK = 512;

/** GitLab's level names for zstd (klauspost's SpeedFastest … SpeedBestCompression ≈ zstd 1, 3, 7, 11). */
export function zstdLevel(zlibLevel: number): number {
  if (zlibLevel <= 1) return 1;
  if (zlibLevel <= 5) return 3;
  if (zlibLevel <= 7) return 7;
  return 11;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len)
    len = String(len).length + Buffer.byteLength(body);
  return Buffer.from(`${len}${body}`);
}

/** One ustar header block; the caller has made `name` and `linkname` fit (or added PAX records). */
export function tarHeader(h: {
  name: string;
  mode: number;
  size: number;
  mtime: Date;
  type: "0" | "2" | "5" | "x";
  linkname?: string;
}): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(h.name, 0, 100, "utf8");
  b.write(octal(h.mode & 0o7777, 8), 100, "ascii");
  b.write(octal(0, 8), 108, "ascii");
  b.write(octal(0, 8), 116, "ascii");
  b.write(octal(h.size, 12), 124, "ascii");
  b.write(octal(Math.max(0, Math.floor(h.mtime.getTime() / 1000)), 12), 136, "ascii");
  b.write("        ", 148, "ascii");
  b.write(h.type, 156, "ascii");
  if (h.linkname) b.write(h.linkname, 157, 100, "utf8");
  b.write("ustar\u000000", 257, "ascii");
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return b;
}

const pad = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

async function* tarStream(baseDir: string, files: readonly string[]): AsyncGenerator<Buffer> {
  for (const rel of files) {
    const abs = join(baseDir, rel);
    const st = lstatSync(abs);
    const type = st.isSymbolicLink() ? "2" : st.isDirectory() ? "5" : "0";
    const name = type === "5" ? `${rel}/` : rel;
    const linkname = type === "2" ? readlinkSync(abs) : undefined;
    const size = type === "0" ? st.size : 0;
    const pax: Buffer[] = [];
    if (Buffer.byteLength(name) > 100) pax.push(paxRecord("path", name));
    if (linkname && Buffer.byteLength(linkname) > 100) pax.push(paxRecord("linkpath", linkname));
    if (size >= 8 ** 11) pax.push(paxRecord("size", String(size)));
    if (pax.length > 0) {
      const data = Buffer.concat(pax);
      yield tarHeader({ name: "PaxHeader", mode: 0o644, size: data.length, mtime: st.mtime, type: "x" });
      yield Buffer.concat([data, pad(data.length)]);
    }
    yield tarHeader({
      name: name.slice(0, 100),
      mode: st.mode,
      size: size >= 8 ** 11 ? 0 : size,
      mtime: st.mtime,
      type,
      linkname: linkname?.slice(0, 100),
    });
    if (type !== "0") continue;
    let read = 0;
    for await (const chunk of createReadStream(abs, {
      highWaterMark: 1024 * 1024,
    }) as AsyncIterable<Buffer>) {
      const part = chunk.subarray(0, Math.max(0, size - read));
      read += part.length;
      yield part;
    }
    if (read !== size)
      throw new Error(`${abs}: changed while being archived (${read} bytes, expected ${size})`);
    yield pad(size);
  }
  yield Buffer.alloc(2 * BLOCK);
}

/** Writes `files` (relative to `baseDir`) as a tar.zst at `outPath`; `level` is a zlib-style 0–9. */
export async function writeTarZstd(
  baseDir: string,
  files: readonly string[],
  outPath: string,
  level = 5,
): Promise<void> {
  await pipeline(
    Readable.from(tarStream(baseDir, files)),
    createZstdCompress({ params: { [constants.ZSTD_c_compressionLevel]: zstdLevel(level) } }),
    createWriteStream(outPath),
  );
}

/** Pulls exact byte counts out of a chunked stream. */
class Bytes {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async fill(n: number): Promise<boolean> {
    while (this.buf.length < n) {
      const { value, done } = await this.it.next();
      if (done) return false;
      this.buf = this.buf.length === 0 ? value : Buffer.concat([this.buf, value]);
    }
    return true;
  }

  async take(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) return undefined;
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** `n` bytes as chunks, without holding them all. */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill(1))) throw new Error("tar archive ends inside an entry");
      const part = this.buf.subarray(0, Math.min(left, this.buf.length));
      this.buf = this.buf.subarray(part.length);
      left -= part.length;
      yield part;
    }
  }
}

async function drain(chunks: AsyncGenerator<Buffer>): Promise<void> {
  for await (const _chunk of chunks) {
    // Skipped: padding or an entry that is not extracted.
  }
}

const field = (b: Buffer, at: number, len: number) => {
  const raw = b.subarray(at, at + len);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? len : end).toString("utf8");
};
const num = (b: Buffer, at: number, len: number) => Number.parseInt(field(b, at, len).trim() || "0", 8);

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const len = Number(data.subarray(at, space).toString("ascii"));
    if (!(len > 0)) break;
    const rec = data.subarray(space + 1, at + len - 1).toString("utf8");
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    at += len;
  }
  return out;
}

/** Extracts a tar.zst into `destDir`, streaming, refusing entries that would leave it. */
export async function extractTarZstd(file: string, destDir: string): Promise<ExtractResult> {
  const root = resolve(destDir);
  mkdirSync(root, { recursive: true });
  const realRoot = realpathSync(root);
  const source = createReadStream(file).pipe(createZstdDecompress());
  const bytes = new Bytes(source[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
  const warnings: string[] = [];
  const links: { name: string; abs: string; target: string }[] = [];
  const dirs: { abs: string; mtime: Date }[] = [];
  let entries = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  for (;;) {
    const header = await bytes.take(BLOCK);
    if (!header || header.every((b) => b === 0)) break;
    const type = String.fromCharCode(header[156]!) || "0";
    const prefix = field(header, 345, 155);
    const plainName = prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100);
    const name = (pax.path ?? longName ?? plainName).replaceAll("\\", "/");
    const size = pax.size !== undefined ? Number(pax.size) : num(header, 124, 12);
    const linkname = pax.linkpath ?? field(header, 157, 100);
    const mtime = new Date(num(header, 136, 12) * 1000);
    const mode = num(header, 100, 8);
    const padded = size + ((BLOCK - (size % BLOCK)) % BLOCK);
    if (type === "x" || type === "L") {
      const data = Buffer.concat(await Array.fromAsync(bytes.chunks(padded)));
      if (type === "x") pax = parsePax(data.subarray(0, size));
      else longName = field(data, 0, size);
      continue;
    }
    pax = {};
    longName = undefined;
    const skip = () => drain(bytes.chunks(padded));
    const rel = insideProject(name);
    if (rel === "." && type === "5") {
      // `./`, the archive's root (GNU tar writes one): the target dir itself.
      await skip();
      continue;
    }
    if (rel === undefined || rel === ".") {
      warnings.push(`${name}: refusing to extract outside ${destDir}`);
      await skip();
      continue;
    }
    const abs = join(root, rel);
    if (!parentInside(abs, realRoot, name, destDir, warnings)) {
      await skip();
      continue;
    }
    if (type === "5") {
      mkdirSync(abs, { recursive: true });
      dirs.push({ abs, mtime });
      entries += 1;
      await skip();
    } else if (type === "2") {
      links.push({ name, abs, target: linkname });
      await skip();
    } else if (type === "0" || type === "\0" || type === "7") {
      try {
        if (!lstatSync(abs).isDirectory()) unlinkSync(abs);
      } catch {}
      const out = createWriteStream(abs, { mode: mode & 0o777 || 0o644 });
      await pipeline(Readable.from(bytes.chunks(size)), out);
      await drain(bytes.chunks(padded - size));
      utimesSync(abs, mtime, mtime);
      entries += 1;
    } else {
      warnings.push(`${name}: tar entry type ${JSON.stringify(type)} is not extracted`);
      await skip();
    }
  }
  source.destroy();
  for (const { name, abs, target } of links) {
    const resolved = resolve(dirname(abs), target);
    if (resolved !== root && !resolved.startsWith(`${root}/`)) {
      warnings.push(`${name}: symlink to ${target} points outside ${destDir}; not extracted`);
      continue;
    }
    try {
      lstatSync(abs);
      warnings.push(`${name}: already exists; not replaced by a symlink`);
      continue;
    } catch {}
    symlinkSync(target, abs);
    entries += 1;
  }
  for (const { abs, mtime } of dirs.reverse()) utimesSync(abs, mtime, mtime);
  return { entries, warnings };
}
