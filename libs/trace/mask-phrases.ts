// Masking stage 1: the values of masked variables become `[MASKED]`. Leftmost match first, and
// of the phrases starting there the longest, so a value that is a prefix of another value
// leaves no tail. Only a tail that could still grow into a phrase is held back between writes,
// so memory stays below the longest phrase whatever the output.

import { EMPTY, joinPieces, LiteralSet, windowOf } from "./literal-search.ts";
import type { TraceTransform } from "./trace-buffer.ts";

export const MASK = "[MASKED]";
export const MASK_BYTES: Uint8Array = new TextEncoder().encode(MASK);

export class PhraseMasker implements TraceTransform {
  private readonly set: LiteralSet;
  private held: Uint8Array = EMPTY;

  /** `phrases` must already be trimmed and without empties (see `createMasker`). */
  constructor(phrases: readonly string[]) {
    const enc = new TextEncoder();
    this.set = new LiteralSet(phrases.map((p) => enc.encode(p)));
  }

  transform(chunk: Uint8Array): Uint8Array {
    return this.set.empty ? chunk : this.run(chunk, false);
  }

  flush(): Uint8Array {
    return this.set.empty ? EMPTY : this.run(EMPTY, true);
  }

  private run(chunk: Uint8Array, atEnd: boolean): Uint8Array {
    const buf = windowOf(this.held, chunk);
    const out: Uint8Array[] = [];
    const cursor = this.set.cursor(buf);
    let pos = 0;
    // Nothing at or after `hold` may be decided yet: a phrase may start there.
    let hold = atEnd ? buf.length : this.set.partialStart(buf, 0);
    for (;;) {
      const m = cursor.find(pos);
      if (!m || m.start >= hold) break;
      if (m.start > pos) out.push(buf.subarray(pos, m.start));
      out.push(MASK_BYTES);
      pos = m.start + m.length;
      if (hold < pos) hold = this.set.partialStart(buf, pos);
    }
    if (hold > pos) out.push(buf.subarray(pos, hold));
    // A copy: holding a view would pin the whole chunk in memory.
    this.held = hold < buf.length ? new Uint8Array(buf.subarray(hold)) : EMPTY;
    if (atEnd) this.held = EMPTY;
    return joinPieces(out);
  }
}
