// The byte layout of a zip archive's records (PKWARE APPNOTE 6.3.x §4.3), pure so the concurrent
// writer (fast-zip.ts) only does I/O. Every entry's sizes and CRC are known before its local
// header is written (fastzip's idea: compress first, append after), so no data descriptors;
// ZIP64 extra fields and end records appear only when a size, an offset or the entry count
// overflows the 32/16-bit fields (or when forced, to test the path without a 4 GiB tree).
// Entries are "made by" Unix (mode in the external attributes) with UTF-8 names (flag bit 11),
// a DOS timestamp and the extended-timestamp extra field (0x5455) Info-ZIP reads for mtime.

export const METHOD_STORE = 0;
export const METHOD_DEFLATE = 8;
/** WinZip's zstd method id, as GitLab Runner's zipzstd format writes it. */
export const METHOD_ZSTD = 93;

const MAX32 = 0xffffffff;
const MAX16 = 0xffff;
const UTF8 = 0x0800;
const UNIX = 3;

export interface ZipEntryRecord {
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  /** File mode with type bits (S_IFREG, S_IFDIR, S_IFLNK). */
  mode: number;
  mtime: Date;
  /** Where the local header starts (central directory only). */
  offset: number;
  isDirectory: boolean;
}

/** MS-DOS time and date words in local time, clamped to DOS's 1980–2107 range. */
export function dosDateTime(d: Date): { time: number; date: number } {
  const year = Math.min(Math.max(d.getFullYear(), 1980), 2107);
  if (d.getFullYear() < 1980) return { time: 0, date: (1 << 5) | 1 };
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | Math.floor(d.getSeconds() / 2),
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}

function needsZip64Sizes(e: ZipEntryRecord, force: boolean): boolean {
  return force || e.compressedSize >= MAX32 || e.uncompressedSize >= MAX32;
}

function mtimeExtra(e: ZipEntryRecord): Buffer {
  const b = Buffer.alloc(9);
  b.writeUInt16LE(0x5455, 0);
  b.writeUInt16LE(5, 2);
  b.writeUInt8(1, 4);
  b.writeUInt32LE(Math.max(0, Math.min(MAX32, Math.floor(e.mtime.getTime() / 1000))), 5);
  return b;
}

function zip64Extra(values: readonly number[]): Buffer {
  const b = Buffer.alloc(4 + 8 * values.length);
  b.writeUInt16LE(0x0001, 0);
  b.writeUInt16LE(8 * values.length, 2);
  for (const [i, v] of values.entries()) b.writeBigUInt64LE(BigInt(v), 4 + 8 * i);
  return b;
}

/** The local file header (with name and extra fields) that precedes an entry's data. */
export function localHeader(e: ZipEntryRecord, forceZip64 = false): Buffer {
  const name = Buffer.from(e.name, "utf8");
  const z64 = needsZip64Sizes(e, forceZip64);
  const extra = Buffer.concat([
    ...(z64 ? [zip64Extra([e.uncompressedSize, e.compressedSize])] : []),
    mtimeExtra(e),
  ]);
  const { time, date } = dosDateTime(e.mtime);
  const h = Buffer.alloc(30);
  h.writeUInt32LE(0x04034b50, 0);
  h.writeUInt16LE(z64 ? 45 : 20, 4);
  h.writeUInt16LE(UTF8, 6);
  h.writeUInt16LE(e.method, 8);
  h.writeUInt16LE(time, 10);
  h.writeUInt16LE(date, 12);
  h.writeUInt32LE(e.crc32 >>> 0, 14);
  h.writeUInt32LE(z64 ? MAX32 : e.compressedSize, 18);
  h.writeUInt32LE(z64 ? MAX32 : e.uncompressedSize, 22);
  h.writeUInt16LE(name.length, 26);
  h.writeUInt16LE(extra.length, 28);
  return Buffer.concat([h, name, extra]);
}

/** The central directory header of one entry. */
export function centralHeader(e: ZipEntryRecord, forceZip64 = false): Buffer {
  const name = Buffer.from(e.name, "utf8");
  const z64 = needsZip64Sizes(e, forceZip64) || e.offset >= MAX32;
  const extra = Buffer.concat([
    ...(z64 ? [zip64Extra([e.uncompressedSize, e.compressedSize, e.offset])] : []),
    mtimeExtra(e),
  ]);
  const { time, date } = dosDateTime(e.mtime);
  const h = Buffer.alloc(46);
  h.writeUInt32LE(0x02014b50, 0);
  h.writeUInt16LE((UNIX << 8) | (z64 ? 45 : 20), 4);
  h.writeUInt16LE(z64 ? 45 : 20, 6);
  h.writeUInt16LE(UTF8, 8);
  h.writeUInt16LE(e.method, 10);
  h.writeUInt16LE(time, 12);
  h.writeUInt16LE(date, 14);
  h.writeUInt32LE(e.crc32 >>> 0, 16);
  h.writeUInt32LE(z64 ? MAX32 : e.compressedSize, 20);
  h.writeUInt32LE(z64 ? MAX32 : e.uncompressedSize, 24);
  h.writeUInt16LE(name.length, 28);
  h.writeUInt16LE(extra.length, 30);
  h.writeUInt16LE(0, 32); // comment
  h.writeUInt16LE(0, 34); // disk
  h.writeUInt16LE(0, 36); // internal attributes
  h.writeUInt32LE((((e.mode & 0xffff) << 16) | (e.isDirectory ? 0x10 : 0)) >>> 0, 38);
  h.writeUInt32LE(z64 ? MAX32 : e.offset, 42);
  return Buffer.concat([h, name, extra]);
}

/** ZIP64 end record and locator (when needed) and the end of central directory record. */
export function endRecords(
  entries: number,
  centralOffset: number,
  centralSize: number,
  forceZip64 = false,
): Buffer {
  const z64 = forceZip64 || entries >= MAX16 || centralOffset >= MAX32 || centralSize >= MAX32;
  const parts: Buffer[] = [];
  if (z64) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE((UNIX << 8) | 45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeUInt32LE(0, 16);
    rec.writeUInt32LE(0, 20);
    rec.writeBigUInt64LE(BigInt(entries), 24);
    rec.writeBigUInt64LE(BigInt(entries), 32);
    rec.writeBigUInt64LE(BigInt(centralSize), 40);
    rec.writeBigUInt64LE(BigInt(centralOffset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeUInt32LE(0, 4);
    loc.writeBigUInt64LE(BigInt(centralOffset + centralSize), 8);
    loc.writeUInt32LE(1, 16);
    parts.push(rec, loc);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(z64 ? MAX16 : entries, 8);
  end.writeUInt16LE(z64 ? MAX16 : entries, 10);
  end.writeUInt32LE(z64 ? MAX32 : centralSize, 12);
  end.writeUInt32LE(z64 ? MAX32 : centralOffset, 16);
  parts.push(end);
  return Buffer.concat(parts);
}
