// The strings the logger blanks out of every line, whatever field or message they hide in.
// Two lifetimes: `add` for secrets that live as long as the process's config (runner tokens),
// and `hold` for a job's token, which returns a handle the job's owner releases once the job's
// last log line is written. Held values are counted, so two owners of one token (poller and
// worker in one process) can each release theirs; the value is forgotten when the last hold
// goes. The pattern is rebuilt over the values alive now, never over every token ever seen: a
// worker that ran 10,000 jobs redacts as fast as one that ran ten.
//
// Lines are redacted when written, and pino writes to our stream synchronously, so a line is
// "out" once the log call returns: releasing after the job's last log call loses nothing. A
// straggler that logs a released job token anyway (a late callback) is still caught when the
// token has GitLab's job-token prefix `glcbt-`, at the cost of one substring search per line.

export interface SecretHold {
  /** Forgets the value unless another hold or `add` still keeps it. Idempotent. */
  release(): void;
  [Symbol.dispose](): void;
}

/** Values this short would blank out ordinary words; GitLab tokens are far longer. */
const MIN_LENGTH = 6;
const REDACTED = "[REDACTED]";
/** GitLab's CI job token prefix (GitLab 16.8+) and the token alphabet that follows it. */
const JOB_TOKEN_PREFIX = "glcbt-";
const JOB_TOKEN = /glcbt-[A-Za-z0-9_.=-]+/g;

const NOOP_HOLD: SecretHold = { release() {}, [Symbol.dispose]() {} };

export class SecretRegistry {
  private readonly permanent = new Set<string>();
  private readonly held = new Map<string, number>();
  private pattern: RegExp | undefined;

  /** For the process's config lifetime (runner tokens); never forgotten. */
  add(value: string | undefined): void {
    if (!value || value.length < MIN_LENGTH || this.permanent.has(value)) return;
    this.permanent.add(value);
    if (!this.held.has(value)) this.pattern = undefined;
  }

  /** For one job's lifetime: redacted until every hold on it is released. */
  hold(value: string | undefined): SecretHold {
    if (!value || value.length < MIN_LENGTH) return NOOP_HOLD;
    const count = this.held.get(value) ?? 0;
    this.held.set(value, count + 1);
    if (count === 0 && !this.permanent.has(value)) this.pattern = undefined;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (this.held.get(value) ?? 1) - 1;
      if (left > 0) {
        this.held.set(value, left);
        return;
      }
      this.held.delete(value);
      if (!this.permanent.has(value)) this.pattern = undefined;
    };
    return { release, [Symbol.dispose]: release };
  }

  /** Whether `value` is redacted now. */
  has(value: string): boolean {
    return this.permanent.has(value) || this.held.has(value);
  }

  /** How many distinct values are redacted now. */
  get size(): number {
    let n = this.permanent.size;
    for (const v of this.held.keys()) if (!this.permanent.has(v)) n++;
    return n;
  }

  redact(line: string): string {
    let out = line;
    if (this.permanent.size > 0 || this.held.size > 0) {
      this.pattern ??= this.build();
      out = out.replace(this.pattern, REDACTED);
    }
    return out.includes(JOB_TOKEN_PREFIX) ? out.replace(JOB_TOKEN, REDACTED) : out;
  }

  private build(): RegExp {
    // Longest first so a secret that contains another is replaced whole; as it appears inside
    // a JSON string (escapes included).
    const alternatives = [...new Set([...this.permanent, ...this.held.keys()])]
      .sort((a, b) => b.length - a.length)
      .map((v) =>
        JSON.stringify(v)
          .slice(1, -1)
          .replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
      );
    return new RegExp(alternatives.join("|"), "g");
  }
}

/** The one registry of this process, read by every logger `createLogger` makes. */
export const secrets = new SecretRegistry();
