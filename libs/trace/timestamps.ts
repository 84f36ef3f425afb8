// GitLab Runner's `FF_TIMESTAMPS` line format (on by default). Every line of the job log starts
// with a 32-byte header, e.g. `2024-05-06T07:08:09.123456Z 01O `:
//   - the UTC time, always 6 fraction digits, then `Z` and a space;
//   - the stream id as 2 lower-case hex digits (00 runner messages, 01 script output);
//   - `O` stdout or `E` stderr;
//   - ` ` for a new line or `+` for the continuation of the previous entry.
//
// Per (stream id, O/E) a partial line is kept until its `\n`, like GitLab Runner 19.4's timestamper
// (common/buildlogger/internal/timestamper):
// - each `\n` ends an entry (a `\r` before it stays in the text);
// - a write with no further `\n` but a `\r` (a progress bar) flushes ALL the rest of the write,
//   bytes after its last `\r` included, as an entry of its own, ended by an added `\n`; the next
//   entry is a continuation (`+`). The `\r` is a flush hint, not a boundary: GitLab Runner ≤ 19.0
//   cut at the last `\r` and left e.g. the `\e[0K` of `section_start:…\r\e[0K` to the next entry
//   with a stale time (19.1+: TestCarriageReturnDoesNotSplitWrite);
// - a partial line that would pass 8 KiB (header included) is flushed with an added `\n`, the
//   next entry being a continuation; unlike GitLab Runner, never inside a UTF-8 character;
// - `end()` flushes a partial line with an added `\n`.
// Each entry's time is read when its header is written, i.e. when the line starts.
// Masking comes before this (a mask never spans a header), then the TraceBuffer after it.
import { incompleteTailStart } from "./utf8-sanitiser.ts";

export type StreamType = "O" | "E";

/** Runner-internal messages. */
export const RUNNER_STREAM = 0;
/** The job's script output (stdout and stderr). */
export const SCRIPT_STREAM = 1;

/** GitLab Runner's line buffer size: a longer partial line is flushed as is. */
export const LINE_BUFFER_BYTES = 8 * 1024;
/** `YYYY-MM-DDTHH:MM:SS.ffffffZ ` + `ssT` + ` `/`+`. */
export const HEADER_BYTES = 32;

/** Epoch milliseconds, fractional for microseconds. */
export type Clock = () => number;
export const systemClock: Clock = () => performance.timeOrigin + performance.now();

export interface TimestampedWriterOptions {
  clock?: Clock;
}

export interface TimestampedWriter {
  /** Appends one write of a stream's (already masked) output. */
  write(streamId: number, type: StreamType, bytes: Uint8Array): void;
  /** End of a stream: its partial line, if any, is flushed with an added `\n`. */
  end(streamId: number, type: StreamType): void;
  /** Ends every stream, in the order they first wrote. */
  endAll(): void;
}

const NL = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const PLUS = 0x2b;
const HEX = "0123456789abcdef";

interface LineState {
  /** Header, then the partial line (a header more than LINE_BUFFER_BYTES at most, as in Go). */
  readonly buf: Uint8Array;
  length: number;
  /** ' ' or '+' for the next header. */
  flag: number;
  readonly streamHex0: number;
  readonly streamHex1: number;
  readonly type: number;
}

/** Formats headers; the date-and-seconds part is cached, it changes once a second. */
class HeaderClock {
  private second = Number.NaN;
  private readonly secondBytes = new Uint8Array(20); // "YYYY-MM-DDTHH:MM:SS."

  constructor(private readonly clock: Clock) {}

  write(out: Uint8Array, o: number, s: LineState): number {
    // Whole microseconds first: a float of epoch ms is only good to ~0.25 µs.
    const total = Math.round(this.clock() * 1000);
    const second = Math.floor(total / 1_000_000);
    if (second !== this.second) {
      this.second = second;
      const iso = new Date(second * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
      for (let i = 0; i < 19; i++) this.secondBytes[i] = iso.charCodeAt(i);
      this.secondBytes[19] = 0x2e;
    }
    out.set(this.secondBytes, o);
    let micros = (total - second * 1_000_000) | 0;
    for (let i = 25; i >= 20; i--) {
      const tenth = (micros / 10) | 0;
      out[o + i] = 0x30 + micros - tenth * 10;
      micros = tenth;
    }
    out[o + 26] = 0x5a; // Z
    out[o + 27] = SPACE;
    out[o + 28] = s.streamHex0;
    out[o + 29] = s.streamHex1;
    out[o + 30] = s.type;
    out[o + 31] = s.flag;
    s.flag = SPACE;
    return o + HEADER_BYTES;
  }
}

function growInt32(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

export function createTimestampedWriter(
  sink: (bytes: Uint8Array) => void,
  opts: TimestampedWriterOptions = {},
): TimestampedWriter {
  const header = new HeaderClock(opts.clock ?? systemClock);
  const streams = new Map<string, LineState>();
  let newlines: Int32Array = new Int32Array(1024);

  const stateOf = (streamId: number, type: StreamType): LineState => {
    if (!Number.isInteger(streamId) || streamId < 0 || streamId > 255) {
      throw new RangeError(`job log stream id ${streamId} is not a byte: use 0–255 (0 runner, 1 script)`);
    }
    const key = `${streamId}${type}`;
    let s = streams.get(key);
    if (!s) {
      s = {
        buf: new Uint8Array(LINE_BUFFER_BYTES + HEADER_BYTES),
        length: 0,
        flag: SPACE,
        streamHex0: HEX.charCodeAt(streamId >> 4),
        streamHex1: HEX.charCodeAt(streamId & 0x0f),
        type: type.charCodeAt(0),
      };
      streams.set(key, s);
    }
    return s;
  };

  const write = (streamId: number, type: StreamType, p: Uint8Array): void => {
    if (p.length === 0) return;
    const s = stateOf(streamId, type);
    // A Buffer view: its native copy() needs no subarray object per line.
    const src = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
    let lines = 0;
    for (let i = src.indexOf(NL); i >= 0; i = src.indexOf(NL, i + 1)) {
      if (lines === newlines.length) newlines = growInt32(newlines);
      newlines[lines++] = i;
    }
    // Every piece of output below is bounded by: the pending line, the input, a header per
    // line plus two more, and two added newlines.
    const out = new Uint8Array(s.length + p.length + (lines + 2) * HEADER_BYTES + 2);
    let o = 0;
    let n = 0;

    // 1. Whole lines.
    for (let k = 0; k < lines; k++) {
      const i = newlines[k]!;
      if (s.length > 0) {
        out.set(s.buf.subarray(0, s.length), o);
        o += s.length;
        s.length = 0;
      } else {
        o = header.write(out, o, s);
      }
      o += src.copy(out, o, n, i + 1);
      n = i + 1;
    }

    // 2. A progress bar: a \r in what is left flushes all of it.
    if (p.indexOf(CR, n) >= 0) {
      if (s.length > 0) {
        out.set(s.buf.subarray(0, s.length), o);
        o += s.length;
        s.length = 0;
      } else {
        o = header.write(out, o, s);
      }
      s.flag = PLUS;
      out.set(p.subarray(n), o);
      o += p.length - n;
      out[o++] = NL;
      n = p.length;
    }

    // 3. The rest is a partial line.
    if (n < p.length) {
      const rest = p.subarray(n);
      if (rest.length + s.length > LINE_BUFFER_BYTES) {
        if (s.length === 0) o = header.write(out, o, s);
        out.set(s.buf.subarray(0, s.length), o);
        o += s.length;
        s.length = 0;
        s.flag = PLUS;
        // A character cut by this write waits for its other bytes in the next entry.
        const cut = incompleteTailStart(rest);
        out.set(rest.subarray(0, cut), o);
        o += cut;
        out[o++] = NL;
        if (cut < rest.length) {
          s.length = header.write(s.buf, 0, s);
          s.buf.set(rest.subarray(cut), s.length);
          s.length += rest.length - cut;
        }
      } else {
        if (s.length === 0) s.length = header.write(s.buf, 0, s);
        s.buf.set(rest, s.length);
        s.length += rest.length;
      }
    }
    if (o > 0) sink(out.subarray(0, o));
  };

  const endState = (s: LineState): void => {
    if (s.length === 0) return;
    const out = new Uint8Array(s.length + 1);
    out.set(s.buf.subarray(0, s.length));
    out[s.length] = NL;
    s.length = 0;
    sink(out);
  };

  return {
    write,
    end(streamId, type) {
      const key = `${streamId}${type}`;
      const s = streams.get(key);
      if (!s) return;
      streams.delete(key);
      endState(s);
    },
    endAll() {
      for (const s of streams.values()) endState(s);
      streams.clear();
    },
  };
}
