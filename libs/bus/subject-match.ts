// NATS subject syntax and wildcard matching, shared by both transports so a subject the
// in-process bus accepts is one NATS accepts too.

/** Throws when `subject` is not a valid NATS subject; `wildcards` allows `*` and a final `>`. */
export function assertSubject(subject: string, opts: { wildcards: boolean }): void {
  const problem = subjectProblem(subject, opts.wildcards);
  if (problem) throw new Error(`invalid subject "${subject}": ${problem}`);
}

export function subjectProblem(subject: string, wildcards: boolean): string | undefined {
  if (subject === "") return "it is empty";
  const tokens = subject.split(".");
  for (const [i, token] of tokens.entries()) {
    if (token === "") return "it has an empty token (leading, trailing or double dot)";
    if (/[\s]/.test(token)) return "it contains whitespace";
    const wild = token === "*" || token === ">";
    if (!wild && /[*>]/.test(token)) return `"*" and ">" must be whole tokens, got "${token}"`;
    if (wild && !wildcards) return "wildcards are not allowed here (publish to a concrete subject)";
    if (token === ">" && i !== tokens.length - 1) return '">" must be the last token';
  }
  return undefined;
}

export function hasWildcard(subject: string): boolean {
  return subject.split(".").some((t) => t === "*" || t === ">");
}

/** Whether a concrete `subject` matches `pattern` (`*` = one token, trailing `>` = one or more). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    const token = p[i];
    if (token === ">") return s.length > i;
    if (i >= s.length) return false;
    if (token !== "*" && token !== s[i]) return false;
  }
  return p.length === s.length;
}
