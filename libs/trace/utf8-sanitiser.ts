// Forces a byte stream to valid UTF-8 the way GitLab Runner's trace buffer does (Go's
// replacement encoder): every byte that does not start a valid sequence becomes U+FFFD, one
// replacement per byte. A sequence cut by a write boundary is carried into the next write
// instead of being replaced, so a character split across two writes survives intact.
import { isUtf8 } from "node:buffer";

const REPLACEMENT = [0xef, 0xbf, 0xbd] as const;
const EMPTY = new Uint8Array(0);

/**
 * Length of the valid UTF-8 sequence starting at `i` (1–4), 0 when the bytes there are
 * invalid, -1 when they are a valid but incomplete prefix cut off by `end`.
 */
export function sequenceLength(b: Uint8Array, i: number, end: number): number {
  const b0 = b[i]!;
  if (b0 < 0x80) return 1;
  let need: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) need = 1;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    need = 2;
    // No overlongs (E0 80..9F) and no UTF-16 surrogates (ED A0..BF).
    if (b0 === 0xe0) lo = 0xa0;
    else if (b0 === 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    need = 3;
    // No overlongs (F0 80..8F) and nothing above U+10FFFF (F4 90..).
    if (b0 === 0xf0) lo = 0x90;
    else if (b0 === 0xf4) hi = 0x8f;
  } else return 0;
  for (let k = 1; k <= need; k++) {
    if (i + k >= end) return -1;
    const c = b[i + k]!;
    if (k === 1 ? c < lo || c > hi : c < 0x80 || c > 0xbf) return 0;
  }
  return need + 1;
}

/** Where a trailing valid-but-incomplete sequence starts, or `b.length` when there is none. */
export function incompleteTailStart(b: Uint8Array): number {
  const end = b.length;
  for (let i = end - 1; i >= 0 && i >= end - 3; i--) {
    if ((b[i]! & 0xc0) !== 0x80) return sequenceLength(b, i, end) === -1 ? i : end;
  }
  return end;
}

/** Replaces every byte that does not start a valid sequence with U+FFFD (at most 3× growth). */
export function replaceInvalid(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length * 3);
  let o = 0;
  for (let i = 0; i < b.length; ) {
    const n = sequenceLength(b, i, b.length);
    if (n > 0) {
      for (let k = 0; k < n; k++) out[o++] = b[i + k]!;
      i += n;
    } else {
      out.set(REPLACEMENT, o);
      o += 3;
      i += 1;
    }
  }
  return out.subarray(0, o);
}

/** Streaming sanitiser: `push` each write, `end` once to flush a dangling partial sequence. */
export class Utf8Sanitiser {
  private carry: Uint8Array = EMPTY;

  push(chunk: Uint8Array): Uint8Array {
    let input = chunk;
    if (this.carry.length > 0) {
      input = new Uint8Array(this.carry.length + chunk.length);
      input.set(this.carry);
      input.set(chunk, this.carry.length);
    }
    const cut = incompleteTailStart(input);
    this.carry = cut < input.length ? input.slice(cut) : EMPTY;
    const body = cut < input.length ? input.subarray(0, cut) : input;
    // Nearly all output is valid already: check natively, copy nothing.
    return isUtf8(body) ? body : replaceInvalid(body);
  }

  /** The stream is over: a partial sequence left over is invalid, one U+FFFD per byte. */
  end(): Uint8Array {
    const rest = this.carry;
    this.carry = EMPTY;
    return rest.length > 0 ? replaceInvalid(rest) : EMPTY;
  }
}
