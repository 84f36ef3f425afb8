// Masking stage 3: tokens recognised by their prefix (`glpat-…`) keep the prefix and lose the
// body: `glpat-[MASKED]`. The body is the longest run of `[A-Za-z0-9._=-]` after the prefix;
// a prefix with no body is left alone. At one position the longest prefix wins. The body is
// dropped as it streams by; only a tail that could still become a prefix is held back.

import { EMPTY, joinPieces, LiteralSet, windowOf } from "./literal-search.ts";
import { MASK_BYTES } from "./mask-phrases.ts";
import type { TraceTransform } from "./trace-buffer.ts";

/** The token alphabet of GitLab Runner's tokensanitizer. */
const BODY = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._=")
  BODY[c.charCodeAt(0)] = 1;

export class TokenPrefixMasker implements TraceTransform {
  private readonly set: LiteralSet;
  private held: Uint8Array = EMPTY;
  /** Inside a token body that started in an earlier write. */
  private inBody = false;
  private bodySeen = false;

  /** `prefixes` are the honoured ones (see `honouredTokenPrefixes`). */
  constructor(prefixes: readonly string[]) {
    const enc = new TextEncoder();
    this.set = new LiteralSet(prefixes.map((p) => enc.encode(p)));
  }

  transform(chunk: Uint8Array): Uint8Array {
    return this.set.empty ? chunk : this.run(chunk, false);
  }

  flush(): Uint8Array {
    return this.set.empty ? EMPTY : this.run(EMPTY, true);
  }

  private run(chunk: Uint8Array, atEnd: boolean): Uint8Array {
    const buf = windowOf(this.held, chunk);
    this.held = EMPTY;
    const len = buf.length;
    const out: Uint8Array[] = [];
    const cursor = this.set.cursor(buf);
    let pos = 0;
    let hold = -1;
    for (;;) {
      if (this.inBody) {
        let j = pos;
        while (j < len && BODY[buf[j]!] === 1) j++;
        if (j > pos) this.bodySeen = true;
        pos = j;
        if (j === len) break;
        if (this.bodySeen) out.push(MASK_BYTES);
        this.inBody = false;
        this.bodySeen = false;
      }
      if (hold < pos) hold = atEnd ? len : this.set.partialStart(buf, pos);
      const m = cursor.find(pos);
      if (!m || m.start >= hold) break;
      const bodyStart = m.start + m.length;
      out.push(buf.subarray(pos, bodyStart));
      pos = bodyStart;
      this.inBody = true;
      this.bodySeen = false;
    }
    if (this.inBody) {
      // The body reached the end of this write: it may go on in the next one.
      if (atEnd) {
        if (this.bodySeen) out.push(MASK_BYTES);
        this.inBody = false;
        this.bodySeen = false;
      }
    } else {
      if (hold > pos) out.push(buf.subarray(pos, hold));
      if (hold < len) this.held = new Uint8Array(buf.subarray(hold));
    }
    return joinPieces(out);
  }
}
