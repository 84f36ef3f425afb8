// The bash / POSIX sh script writer: GitLab Runner's BashWriter (shells/bash.go) in TypeScript.
// It knows how to quote, print and export; what a stage contains is stage-scripts.ts's concern.
// Every string that comes from a user (commands, variable values, paths) goes through
// shellQuote, so it reaches the shell as one literal word.

export type ShellName = "bash" | "sh";

export const ANSI = {
  reset: "\x1b[0;m",
  clear: "\x1b[0K",
  boldGreen: "\x1b[32;1m",
  boldRed: "\x1b[31;1m",
  boldCyan: "\x1b[36;1m",
  yellow: "\x1b[0;33m",
} as const;

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** POSIX single-quote quoting: valid in bash and dash, nothing inside is interpreted. */
export function shellQuote(value: string): string {
  if (value !== "" && SAFE_WORD.test(value)) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

const ANSI_C_NAMED: Record<number, string> = {
  7: "\\a",
  8: "\\b",
  9: "\\t",
  10: "\\n",
  11: "\\v",
  12: "\\f",
  13: "\\r",
  27: "\\e",
  39: "\\'",
  92: "\\\\",
};

/**
 * Bash ANSI-C quoting (`$'...'`), GitLab Runner's default `helpers.ShellEscape`: control and
 * non-ASCII bytes become escapes, so every quoted word fits on one line. Not POSIX: dash
 * before 0.5.13 cannot read it (hence FF_POSIXLY_CORRECT_ESCAPES).
 */
export function ansiCQuote(value: string): string {
  if (value !== "" && SAFE_WORD.test(value)) return value;
  let out = "$'";
  for (const byte of new TextEncoder().encode(value)) {
    const named = ANSI_C_NAMED[byte];
    if (named) out += named;
    else if (byte < 0x20 || byte >= 0x7f) out += `\\x${byte.toString(16).padStart(2, "0")}`;
    else out += String.fromCharCode(byte);
  }
  return `${out}'`;
}

/** How a writer quotes words: POSIX single quotes, or bash's `$'...'` (GitLab's default for bash). */
export type QuoteStyle = "posix" | "ansi-c";

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether `export NAME=...` can work; other names would abort the script under errexit. */
export function isShellIdentifier(name: string): boolean {
  return IDENTIFIER.test(name);
}

export class BashWriter {
  private readonly lines: string[] = [];
  private indent = 0;
  /** Quotes one word in this writer's style. */
  readonly quote: (value: string) => string;

  constructor(options: { quote?: QuoteStyle } = {}) {
    this.quote = options.quote === "ansi-c" ? ansiCQuote : shellQuote;
  }

  line(text: string): void {
    this.lines.push("  ".repeat(this.indent) + text);
  }

  /** A command whose every word is quoted. */
  command(command: string, ...args: string[]): void {
    this.line([command, ...args].map(this.quote).join(" "));
  }

  cd(path: string): void {
    this.command("cd", path);
  }

  mkdir(path: string): void {
    this.command("mkdir", "-p", path);
  }

  rmDir(path: string): void {
    this.command("rm", "-r", "-f", path);
  }

  rmFile(path: string): void {
    this.command("rm", "-f", path);
  }

  /** `printf` rather than GitLab's `echo`: dash's echo would interpret backslashes in user text. */
  private print(text: string): void {
    this.line(`printf '%s\\n' ${this.quote(text)}`);
  }

  printf(text: string): void {
    this.print(ANSI.reset + text);
  }

  notice(text: string): void {
    this.print(ANSI.boldGreen + text + ANSI.reset);
  }

  warning(text: string): void {
    this.print(ANSI.yellow + text + ANSI.reset);
  }

  error(text: string): void {
    this.print(ANSI.boldRed + text + ANSI.reset);
  }

  emptyLine(): void {
    this.line("echo");
  }

  export(name: string, value: string): void {
    this.line(`export ${name}=${this.quote(value)}`);
  }

  /** `export` of a file variable: content written to `path`, the variable holding the path. */
  exportFile(name: string, content: string, dir: string, path: string): void {
    this.line(`mkdir -p ${this.quote(dir)}`);
    this.line(`printf '%s' ${this.quote(content)} > ${this.quote(path)}`);
    this.export(name, path);
  }

  /**
   * Reads `KEY=value` lines written to $GITLAB_ENV by earlier stages. Empty lines are skipped
   * and a last line without a newline still counts.
   */
  sourceEnv(dir: string, path: string, options: { gitlabForm?: boolean } = {}): void {
    const d = this.quote(dir);
    const f = this.quote(path);
    if (options.gitlabForm) {
      this.line(`mkdir -p ${d}`);
      this.line(`touch ${f}`);
    } else {
      // The same dir and file, forking mkdir and touch only where they have work to do (about
      // 2.5 ms of CPU per stage, issue 16): the dir is there from the job before, whose cleanup
      // removed the file. The debug trace keeps GitLab's two lines, which users see there.
      this.line(`[ -d ${d} ] || mkdir -p ${d}`);
      this.line(`if [ -e ${f} ]; then touch ${f}; else : > ${f}; fi`);
    }
    this.line(
      `while read -r line || [ -n "$line" ]; do if [ -n "$line" ]; then export "$line"; fi; done < ${this.quote(path)}`,
    );
  }

  ifCmd(command: string, ...args: string[]): void {
    this.line(`if ${[command, ...args].map(this.quote).join(" ")} >/dev/null 2>&1; then`);
    this.indent++;
  }

  ifFile(path: string): void {
    this.line(`if [ -e ${this.quote(path)} ]; then`);
    this.indent++;
  }

  else(): void {
    this.indent--;
    this.line("else");
    this.indent++;
  }

  endIf(): void {
    this.indent--;
    this.line("fi");
  }

  body(): string {
    return this.lines.length === 0 ? "" : `${this.lines.join("\n")}\n`;
  }

  /**
   * The whole script. TERM is trapped to `exit 1` (bash would otherwise dump the script into
   * the log when killed), errexit and pipefail (where the shell has it) stop at the first
   * failing command, and the body runs in an `eval` subshell whose stdin is an empty pipe, so
   * a command reading stdin cannot swallow the script fed to the shell on its own stdin.
   */
  finish(shell: ShellName, options: { trace?: boolean } = {}): string {
    let out = `#!/usr/bin/env ${shell}\n\n`;
    out += "trap exit 1 TERM\n\n";
    if (options.trace) out += "set -o xtrace\n";
    // GitLab's own probe forks grep on every stage; bash always has pipefail, so it is set
    // directly (about 1.5 ms of CPU per stage, issue 16). The debug trace keeps GitLab's line,
    // whose `+ set -o` / `+ grep pipefail` users see there.
    out +=
      shell === "bash" && !options.trace
        ? "set -o pipefail; set -o errexit\n"
        : "if set -o | grep pipefail > /dev/null; then set -o pipefail; fi; set -o errexit\n";
    out += "set +o noclobber\n";
    // `(eval …)` is GitLab's FF_USE_NEW_BASH_EVAL_STRATEGY form: bash's plain `: | eval`
    // reports 1 instead of the failing command's own exit code.
    out += `: | (eval ${this.quote(this.body())})\n`;
    out += "exit 0\n";
    return out;
  }
}
