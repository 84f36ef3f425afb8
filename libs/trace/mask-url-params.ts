// Masking stage 2: the values of sensitive URL query parameters (`?private_token=…`,
// `&X-Amz-Signature=…`) become `[MASKED]`, as GitLab Runner's urlsanitizer does. Keys are
// compared case-insensitively and stay visible; a value runs to the next `?`, `&`, whitespace
// or control character (Unicode ones too, as Go's unicode.IsSpace/IsControl). The value is
// dropped as it streams by, so nothing is held back except up to 2 bytes of a character cut
// by a write boundary, which may turn out to be the end of the value.

import { EMPTY, joinPieces, windowOf } from "./literal-search.ts";
import { MASK_BYTES } from "./mask-phrases.ts";
import type { TraceTransform } from "./trace-buffer.ts";

/** Query parameters whose values GitLab Runner masks (lower case). */
export const SENSITIVE_URL_PARAMS: readonly string[] = [
  "private_token",
  "authenticity_token",
  "rss_token",
  "x-amz-signature",
  "x-amz-credential",
  "x-amz-security-token",
];

const SENSITIVE = new Set(SENSITIVE_URL_PARAMS);
/** Longer keys cannot be sensitive: stop collecting them (GitLab Runner does the same). */
const MAX_KEY = Math.max(...SENSITIVE_URL_PARAMS.map((k) => k.length));

const QUESTION = 0x3f;
const AMPERSAND = 0x26;
const EQUALS = 0x3d;

enum Mode {
  Scan,
  Key,
  Value,
}

/**
 * Whether a non-ASCII character starting at `i` ends a parameter value: 1 yes, 0 no, -1 it
 * is cut off by `end` and might. Covers C1 controls, NEL, NBSP and Unicode's other spaces.
 */
function unicodeValueEnd(b: Uint8Array, i: number, end: number): number {
  const b0 = b[i]!;
  if (b0 !== 0xc2 && b0 !== 0xe1 && b0 !== 0xe2 && b0 !== 0xe3) return 0;
  if (i + 1 >= end) return -1;
  const b1 = b[i + 1]!;
  if (b0 === 0xc2) return b1 <= 0x9f || b1 === 0xa0 ? 1 : 0; // U+0080–U+009F, U+00A0
  const second = b0 === 0xe1 ? b1 === 0x9a : b0 === 0xe3 ? b1 === 0x80 : b1 === 0x80 || b1 === 0x81;
  if (!second) return 0;
  if (i + 2 >= end) return -1;
  const b2 = b[i + 2]!;
  if (b0 === 0xe1) return b2 === 0x80 ? 1 : 0; // U+1680
  if (b0 === 0xe3) return b2 === 0x80 ? 1 : 0; // U+3000
  if (b1 === 0x81) return b2 === 0x9f ? 1 : 0; // U+205F
  return b2 <= 0x8a || b2 === 0xa8 || b2 === 0xa9 || b2 === 0xaf ? 1 : 0; // U+2000–200A, 2028, 2029, 202F
}

export class UrlParamMasker implements TraceTransform {
  private mode = Mode.Scan;
  private readonly key = new Uint8Array(MAX_KEY);
  private keyLength = 0;
  private held: Uint8Array = EMPTY;

  transform(chunk: Uint8Array): Uint8Array {
    return this.run(chunk, false);
  }

  flush(): Uint8Array {
    return this.run(EMPTY, true);
  }

  private run(chunk: Uint8Array, atEnd: boolean): Uint8Array {
    const buf = windowOf(this.held, chunk);
    this.held = EMPTY;
    const len = buf.length;
    const out: Uint8Array[] = [];
    let emitFrom = 0;
    let n = 0;
    let nextQuestion = -2;
    let nextAmpersand = -2;
    while (n < len) {
      if (this.mode === Mode.Value) {
        let end = -1;
        let j = n;
        while (j < len) {
          const b = buf[j]!;
          if (b < 0x80) {
            if (b <= 0x20 || b === 0x7f || b === QUESTION || b === AMPERSAND) {
              end = j;
              break;
            }
          } else {
            const e = unicodeValueEnd(buf, j, len);
            if (e === 1) {
              end = j;
              break;
            }
            if (e === -1 && !atEnd) {
              this.held = new Uint8Array(buf.subarray(j));
              break;
            }
          }
          j++;
        }
        if (end < 0) {
          // The value goes on past this write: drop what we have of it.
          emitFrom = len;
          n = len;
          break;
        }
        out.push(MASK_BYTES);
        emitFrom = end;
        n = end;
        this.mode = Mode.Scan;
        continue;
      }
      if (this.mode === Mode.Scan) {
        if (nextQuestion !== -1 && nextQuestion < n) nextQuestion = buf.indexOf(QUESTION, n);
        if (nextAmpersand !== -1 && nextAmpersand < n) nextAmpersand = buf.indexOf(AMPERSAND, n);
        const sep =
          nextQuestion < 0
            ? nextAmpersand
            : nextAmpersand < 0
              ? nextQuestion
              : Math.min(nextQuestion, nextAmpersand);
        if (sep < 0) {
          n = len;
          break;
        }
        n = sep + 1;
        this.mode = Mode.Key;
        this.keyLength = 0;
        continue;
      }
      const b = buf[n]!;
      n++;
      if (b === EQUALS) {
        if (this.keyIsSensitive()) {
          out.push(buf.subarray(emitFrom, n));
          emitFrom = n;
          this.mode = Mode.Value;
        } else {
          this.mode = Mode.Scan;
        }
      } else if (b === QUESTION || b === AMPERSAND) {
        this.keyLength = 0;
      } else if (this.keyLength === MAX_KEY) {
        this.mode = Mode.Scan;
      } else {
        this.key[this.keyLength++] = b >= 0x41 && b <= 0x5a ? b + 0x20 : b;
      }
    }
    if (emitFrom < len) out.push(buf.subarray(emitFrom, len));
    if (atEnd) {
      if (this.mode === Mode.Value) out.push(MASK_BYTES);
      this.mode = Mode.Scan;
      this.keyLength = 0;
    }
    return joinPieces(out);
  }

  private keyIsSensitive(): boolean {
    return SENSITIVE.has(String.fromCharCode(...this.key.subarray(0, this.keyLength)));
  }
}
