// A job's log on its way to GitLab: file-backed, so memory does not grow with the output.
// Every write goes through, in order: the transform stage (masking plugs in here), UTF-8
// sanitising, the output limit, then the file and the running CRC32. What ends up in the file
// is exactly what is PATCHed, so `checksum()`/`size` describe the bytes GitLab stores.
import { closeSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Utf8Sanitiser } from "./utf8-sanitiser.ts";

/** GitLab Runner's default `output_limit`: 4096 KiB. */
export const DEFAULT_OUTPUT_LIMIT_BYTES = 4 * 1024 * 1024;

/**
 * A streaming rewrite of the raw output applied before anything else (masking, later). It may
 * hold bytes back (a secret split across writes) and must give them up in `flush`.
 */
export interface TraceTransform {
  transform(chunk: Uint8Array): Uint8Array;
  flush(): Uint8Array;
}

export interface TraceBufferOptions {
  /** Output limit in bytes (config's `output_limit` is in KiB: multiply first). */
  limitBytes?: number;
  /** Directory of the temp file; defaults to the OS temp dir. */
  dir?: string;
  transform?: TraceTransform;
}

/** The yellow notice GitLab Runner appends when the limit is hit; it counts in the size. */
export function limitExceededNotice(limitBytes: number): string {
  return (
    `\n\x1b[33;1mJob's log exceeded limit of ${limitBytes} bytes.\n` +
    "Job execution will continue but no more output will be collected.\x1b[0;m\n"
  );
}

/** Largest n' ≤ n such that `b[0:n']` does not end inside a UTF-8 sequence (b is valid UTF-8). */
export function charBoundaryAtOrBefore(b: Uint8Array, n: number): number {
  if (n >= b.length) return b.length;
  let cut = n;
  while (cut > 0 && (b[cut]! & 0xc0) === 0x80) cut--;
  return cut;
}

const encoder = new TextEncoder();

export class TraceBuffer {
  private readonly sanitiser = new Utf8Sanitiser();
  private written = 0;
  private crc = 0;
  private limitReached = false;
  private finished = false;
  private closed = false;

  private constructor(
    private readonly fd: number,
    readonly limitBytes: number,
    private readonly transformStage: TraceTransform | undefined,
  ) {}

  static async create(opts: TraceBufferOptions = {}): Promise<TraceBuffer> {
    const limit =
      opts.limitBytes && opts.limitBytes > 0 ? Math.floor(opts.limitBytes) : DEFAULT_OUTPUT_LIMIT_BYTES;
    const path = join(opts.dir ?? tmpdir(), `runmesh-trace-${crypto.randomUUID()}`);
    let fd: number;
    try {
      fd = openSync(path, "wx+", 0o600);
    } catch (err) {
      throw new Error(
        `cannot create the job log file ${path}: ${(err as Error).message}; check that the temp directory is writable`,
        { cause: err },
      );
    }
    // Unlinked at once: the open descriptor keeps it alive, and a crash leaves no log behind.
    unlinkSync(path);
    return new TraceBuffer(fd, limit, opts.transform);
  }

  /** Bytes kept so far (GitLab's `output.bytesize`). */
  get size(): number {
    return this.written;
  }

  /** `crc32:%08x` (IEEE) over the bytes kept so far (GitLab's `output.checksum`). */
  checksum(): string {
    return `crc32:${this.crc.toString(16).padStart(8, "0")}`;
  }

  /** True once the output limit was hit; later output is dropped, the job goes on. */
  get truncated(): boolean {
    return this.limitReached;
  }

  /**
   * Appends raw output. Always reports the whole chunk as accepted, even when it was dropped
   * by the limit, so writers carry on (GitLab Runner does the same).
   */
  write(bytes: Uint8Array): number {
    if (this.finished || this.closed) return bytes.length;
    const transformed = this.transformStage ? this.transformStage.transform(bytes) : bytes;
    this.keep(this.sanitiser.push(transformed));
    return bytes.length;
  }

  /** End of output: flushes what the transform and the sanitiser held back. Idempotent. */
  finish(): void {
    if (this.finished || this.closed) return;
    if (this.transformStage) this.keep(this.sanitiser.push(this.transformStage.flush()));
    this.keep(this.sanitiser.end());
    this.finished = true;
  }

  /** Up to `maxBytes` kept bytes from `offset` (fewer at the end; empty past it). */
  read(offset: number, maxBytes: number): Uint8Array {
    if (this.closed) throw new Error("job log buffer is closed: read it before close()/remove()");
    const n = Math.max(0, Math.min(maxBytes, this.written - offset));
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const r = readSync(this.fd, out, got, n - got, offset + got);
      if (r <= 0) break;
      got += r;
    }
    return got === n ? out : out.subarray(0, got);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  /** Closes and deletes the log (the file is already unlinked; this frees the space). */
  async remove(): Promise<void> {
    this.close();
  }

  private keep(clean: Uint8Array): void {
    if (this.limitReached || clean.length === 0) return;
    const capacity = this.limitBytes - this.written;
    // Reaching the limit exactly counts as crossing it, as in GitLab Runner.
    if (clean.length >= capacity) {
      this.append(clean.subarray(0, charBoundaryAtOrBefore(clean, capacity)));
      this.append(encoder.encode(limitExceededNotice(this.limitBytes)));
      this.limitReached = true;
      return;
    }
    this.append(clean);
  }

  private append(b: Uint8Array): void {
    let done = 0;
    while (done < b.length) done += writeSync(this.fd, b, done, b.length - done, this.written + done);
    this.crc = b.length > 0 ? Bun.hash.crc32(b, this.crc) : this.crc;
    this.written += b.length;
  }
}
