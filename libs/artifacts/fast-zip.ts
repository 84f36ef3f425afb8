// A zip writer that compresses files concurrently, GitLab Runner's fastzip idea
// (saracen/fastzip, docs "fastzip to improve performance"): a pool of `concurrency` deflate
// streams (node:zlib runs them on its thread pool, so they use every core, also inside a
// `bun build --compile` binary), each compressing one file into a per-file buffer of
// `bufferSize` bytes and spilling the rest to scratch space on disk. Entries are appended to the
// archive as they finish, one at a time, with their sizes and CRC already known (workers go on
// while finished entries wait their turn, up to another concurrency × bufferSize); the central
// directory is written at the end in the order the files were given. Memory stays at about
// concurrency × (2 × bufferSize + a zlib stream), whatever the tree's size.
import { createReadStream, lstatSync, mkdtempSync, readlinkSync, rmSync } from "node:fs";
import { type FileHandle, open, readFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { crc32, createDeflateRaw, deflateRaw } from "node:zlib";
import {
  centralHeader,
  endRecords,
  localHeader,
  METHOD_DEFLATE,
  METHOD_STORE,
  type ZipEntryRecord,
} from "./zip-records.ts";

export interface FastZipOptions {
  /** zlib level; 0 stores (GitLab: ARTIFACT_COMPRESSION_LEVEL=fastest). */
  level: number;
  /** FASTZIP_ARCHIVER_CONCURRENCY: files compressed at once (default: the CPUs). */
  concurrency: number;
  /** FASTZIP_ARCHIVER_BUFFER_SIZE: bytes kept in memory per file before scratch (default 2 MiB). */
  bufferSize: number;
  /** ARCHIVER_STAGING_DIR: where scratch files go (default the system's temp dir). */
  scratchDir: string;
  /** Write ZIP64 records even when nothing overflows (tests the >4 GiB path on a small tree). */
  forceZip64: boolean;
}

export const DEFAULT_BUFFER_SIZE = 2 * 1024 * 1024;
const READ_CHUNK = 1024 * 1024;
const S_IFLNK = 0o120000;

export function fastZipDefaults(): FastZipOptions {
  return {
    level: 5,
    concurrency: availableParallelism(),
    bufferSize: DEFAULT_BUFFER_SIZE,
    scratchDir: tmpdir(),
    forceZip64: false,
  };
}

/** An entry's data after compression: in memory, then (past bufferSize) in a scratch file. */
interface Compressed {
  record: ZipEntryRecord;
  chunks: Buffer[];
  scratch?: string;
  /** A stored file larger than the buffer: copied from the file itself when appended. */
  source?: string;
}

const deflateRawAsync = promisify(deflateRaw);

/** Collects a stream into memory up to `limit` bytes, the rest into `scratchPath`. */
class SpillSink extends Writable {
  readonly chunks: Buffer[] = [];
  bytes = 0;
  private file?: FileHandle;
  spilled = false;

  constructor(
    private readonly limit: number,
    private readonly scratchPath: string,
  ) {
    super();
  }

  override _write(chunk: Buffer, _enc: string, done: (e?: Error | null) => void): void {
    this.bytes += chunk.length;
    if (!this.spilled && this.bytes <= this.limit) {
      this.chunks.push(chunk);
      done();
      return;
    }
    this.spilled = true;
    const write = async () => {
      this.file ??= await open(this.scratchPath, "w");
      await this.file.write(chunk);
    };
    write().then(() => done(), done);
  }

  override _final(done: (e?: Error | null) => void): void {
    if (!this.file) done();
    else this.file.close().then(() => done(), done);
  }
}

async function compressFile(
  abs: string,
  record: ZipEntryRecord,
  opts: FastZipOptions,
  scratchPath: string,
): Promise<Compressed> {
  const store = opts.level === 0 || record.uncompressedSize === 0;
  // A file within the buffer: one read and one zlib call on the thread pool, no streams.
  if (record.uncompressedSize <= opts.bufferSize) {
    const data = await readFile(abs);
    const packed = store ? data : await deflateRawAsync(data, { level: opts.level });
    const method = store ? METHOD_STORE : METHOD_DEFLATE;
    const sizes = { uncompressedSize: data.length, compressedSize: packed.length };
    return { record: { ...record, ...sizes, method, crc32: crc32(data) }, chunks: [packed] };
  }
  let crc = 0;
  let size = 0;
  if (store) {
    // Read once for the CRC here; the bytes are copied from the file when the entry is appended.
    for await (const chunk of createReadStream(abs, { highWaterMark: READ_CHUNK }) as AsyncIterable<Buffer>) {
      crc = crc32(chunk, crc);
      size += chunk.length;
    }
    const sizes = { uncompressedSize: size, compressedSize: size };
    return { record: { ...record, ...sizes, method: METHOD_STORE, crc32: crc }, chunks: [], source: abs };
  }
  const measure = new Transform({
    transform(chunk: Buffer, _enc, done) {
      crc = crc32(chunk, crc);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const sink = new SpillSink(opts.bufferSize, scratchPath);
  const source = createReadStream(abs, { highWaterMark: READ_CHUNK });
  await pipeline(source, measure, createDeflateRaw({ level: opts.level }), sink);
  return {
    record: {
      ...record,
      method: METHOD_DEFLATE,
      crc32: crc,
      uncompressedSize: size,
      compressedSize: sink.bytes,
    },
    chunks: sink.chunks,
    scratch: sink.spilled ? scratchPath : undefined,
  };
}

/** Appends to the archive file through one handle, in ~1 MiB writes. */
class ArchiveOut {
  offset = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly fh: FileHandle) {}

  async write(b: Buffer): Promise<void> {
    this.pending.push(b);
    this.pendingBytes += b.length;
    this.offset += b.length;
    if (this.pendingBytes >= READ_CHUNK) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    await this.fh.write(data);
  }
}

/** The record of a path before its data is read, from lstat. */
function recordOf(baseDir: string, rel: string): { record: ZipEntryRecord; link?: Buffer } {
  const abs = join(baseDir, rel);
  const st = lstatSync(abs);
  const base = {
    crc32: 0,
    compressedSize: 0,
    uncompressedSize: 0,
    mtime: st.mtime,
    offset: 0,
    method: METHOD_STORE,
  };
  if (st.isSymbolicLink()) {
    const link = Buffer.from(readlinkSync(abs));
    return {
      record: {
        ...base,
        name: rel,
        mode: S_IFLNK | 0o777,
        isDirectory: false,
        crc32: crc32(link),
        compressedSize: link.length,
        uncompressedSize: link.length,
      },
      link,
    };
  }
  if (st.isDirectory()) return { record: { ...base, name: `${rel}/`, mode: st.mode, isDirectory: true } };
  return { record: { ...base, name: rel, mode: st.mode, isDirectory: false, uncompressedSize: st.size } };
}

/**
 * Writes `files` (relative to `baseDir`, as artifact-files.ts selects them) into a zip at
 * `outPath`. Directories become `name/` entries, symlinks stored entries holding their target.
 */
export async function writeFastZip(
  baseDir: string,
  files: readonly string[],
  outPath: string,
  options: Partial<FastZipOptions> = {},
): Promise<void> {
  const opts = { ...fastZipDefaults(), ...options };
  const concurrency = Math.max(1, Math.floor(opts.concurrency) || 1);
  const scratch = mkdtempSync(join(opts.scratchDir, "runmesh-fastzip-"));
  const fh = await open(outPath, "w");
  const out = new ArchiveOut(fh);
  const written: (ZipEntryRecord | undefined)[] = new Array(files.length);
  // One entry at a time into the archive: a promise chain as the lock.
  let appending: Promise<void> = Promise.resolve();
  const append = (i: number, c: Compressed): Promise<void> => {
    const run = async () => {
      const record = { ...c.record, offset: out.offset };
      await out.write(localHeader(record, opts.forceZip64));
      for (const chunk of c.chunks) await out.write(chunk);
      const from = c.scratch ?? c.source;
      if (from) {
        const expected = record.compressedSize - c.chunks.reduce((n, b) => n + b.length, 0);
        await out.flush();
        let copied = 0;
        for await (const chunk of createReadStream(from, {
          highWaterMark: READ_CHUNK,
        }) as AsyncIterable<Buffer>) {
          copied += chunk.length;
          await out.write(chunk);
        }
        if (c.scratch) rmSync(c.scratch, { force: true });
        if (copied !== expected)
          throw new Error(`${from}: changed while being archived (${copied} bytes, expected ${expected})`);
      }
      written[i] = record;
    };
    appending = appending.then(run);
    return appending;
  };
  let next = 0;
  let failed: unknown;
  let queued = 0;
  const queueLimit = concurrency * Math.max(opts.bufferSize, READ_CHUNK);
  const worker = async () => {
    while (failed === undefined && next < files.length) {
      const i = next++;
      const { record, link } = recordOf(baseDir, files[i]!);
      const c: Compressed =
        link || record.isDirectory
          ? { record, chunks: link ? [link] : [] }
          : await compressFile(join(baseDir, files[i]!), record, opts, join(scratch, String(i)));
      // A compressed entry waits in memory for its turn to be appended while the worker moves
      // on, up to `queueLimit` bytes; past that (or when its data is on disk) the worker waits,
      // so memory stays bounded by the pool and scratch files do not pile up.
      const bytes = c.chunks.reduce((sum, b) => sum + b.length, 0);
      queued += bytes;
      const done = append(i, c).finally(() => {
        queued -= bytes;
      });
      done.catch((e) => {
        failed ??= e;
      });
      if (c.scratch || c.source || queued > queueLimit) await done;
    }
  };
  try {
    await Promise.all(
      Array.from({ length: Math.min(concurrency, files.length) }, () =>
        worker().catch((e) => {
          failed ??= e;
        }),
      ),
    );
    await appending.catch(() => {});
    if (failed !== undefined) throw failed;
    const centralOffset = out.offset;
    for (const record of written) await out.write(centralHeader(record!, opts.forceZip64));
    const centralSize = out.offset - centralOffset;
    await out.write(endRecords(files.length, centralOffset, centralSize, opts.forceZip64));
    await out.flush();
  } finally {
    await fh.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}
