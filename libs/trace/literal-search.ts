// Leftmost-longest search for a fixed set of byte strings in a window of a stream, and the
// place from which the window's tail could still become a match once more bytes arrive. Both
// masking stages that look for literals (secret phrases, token prefixes) stand on this, so a
// streaming stage decides exactly what a one-shot pass over the whole text would decide.

export interface LiteralMatch {
  start: number;
  length: number;
}

export class LiteralSet {
  /** Longest first, so a tie on the start position goes to the longest literal. */
  readonly literals: readonly Buffer[];
  readonly maxLength: number;
  private readonly firstBytes = new Uint8Array(256);

  constructor(literals: readonly Uint8Array[]) {
    this.literals = literals
      .filter((l) => l.length > 0)
      .map((l) => Buffer.from(l))
      .sort((a, b) => b.length - a.length);
    this.maxLength = this.literals[0]?.length ?? 0;
    for (const l of this.literals) this.firstBytes[l[0]!] = 1;
  }

  get empty(): boolean {
    return this.literals.length === 0;
  }

  /**
   * Earliest position p ≥ from such that `buf[p:]` is a proper prefix of some literal (the
   * start of a match cut off by the end of the window), or `buf.length` when there is none.
   */
  partialStart(buf: Buffer, from: number): number {
    const end = buf.length;
    for (let p = Math.max(from, end - this.maxLength + 1); p < end; p++) {
      if (this.firstBytes[buf[p]!] === 0) continue;
      const rest = end - p;
      for (const l of this.literals) {
        if (l.length <= rest) break;
        if (buf.compare(l, 0, rest, p, end) === 0) return p;
      }
    }
    return end;
  }

  /** A cursor over one window that yields complete matches left to right, without overlaps. */
  cursor(buf: Buffer): LiteralCursor {
    return new LiteralCursor(this.literals, buf);
  }
}

export class LiteralCursor {
  private readonly next: number[];

  constructor(
    private readonly literals: readonly Buffer[],
    private readonly buf: Buffer,
  ) {
    this.next = literals.map((l) => buf.indexOf(l, 0));
  }

  /** The leftmost complete match starting at or after `from` (longest on a tie), or undefined. */
  find(from: number): LiteralMatch | undefined {
    let start = -1;
    let length = 0;
    for (let i = 0; i < this.literals.length; i++) {
      let at = this.next[i]!;
      if (at >= 0 && at < from) {
        at = this.buf.indexOf(this.literals[i]!, from);
        this.next[i] = at;
      }
      if (at >= 0 && (start < 0 || at < start)) {
        start = at;
        length = this.literals[i]!.length;
      }
    }
    return start < 0 ? undefined : { start, length };
  }
}

/** A window onto the stream: the bytes held back from the last write, then the new chunk. */
export function windowOf(held: Uint8Array, chunk: Uint8Array): Buffer {
  if (held.length === 0) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return Buffer.concat([held, chunk]);
}

/** Joins output pieces; one piece is returned as is, without a copy. */
export function joinPieces(pieces: Uint8Array[]): Uint8Array {
  if (pieces.length === 0) return EMPTY;
  if (pieces.length === 1) return pieces[0]!;
  return Buffer.concat(pieces);
}

export const EMPTY = new Uint8Array(0);
