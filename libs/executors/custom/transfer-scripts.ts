// The scripts the custom executor hands its driver for the worker's cache and artifact stages,
// and how their output is read back. GitLab Runner runs `gitlab-runner cache-archiver` /
// `artifacts-uploader` on the driver's target through run_exec; runmesh needs no runmesh binary
// there, only sh, find, tar and base64 (git for `untracked`): it runs these scripts through the
// driver's own run_exec, as it runs every stage, so any driver that runs job scripts moves files.
// Data travels inside the script and its stdout, the two channels every driver already carries:
// what the worker sends is base64 in a here-document of the script; what it reads is base64
// between marker lines on stdout, so a driver's own stdout lines before or after (banners) are
// set aside, a TTY's \r\n is harmless, and a driver that skipped the script (no end marker) is
// told apart from an empty result. Pure: the executor writes the files and runs them.
import { LIST_SCRIPT, rootArgs, TAR_CREATE_SCRIPT, TAR_EXTRACT_SCRIPT } from "../workspace-transfer.ts";

/** The stage names run_exec gets for these scripts; a driver that filters stages must let them through. */
export const TRANSFER_STAGES = {
  list: "workspace_list",
  untracked: "workspace_untracked",
  fetch: "workspace_export",
  push: "workspace_import",
} as const;

/** POSIX single quotes. */
export function quote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * A script whose `body` stdout reaches the worker as base64 between `<marker> begin` and
 * `<marker> end <body's exit code>`, run in `projectDir`.
 */
export function framedScript(projectDir: string, marker: string, body: string): string {
  return [
    `cd ${quote(projectDir)} || exit 1`,
    `printf '%s\\n' ${quote(`${marker} begin`)}`,
    // The body's status comes out on fd 3 while its base64 goes to the saved stdout (fd 4):
    // POSIX sh has no pipefail.
    "exec 4>&1",
    `rc=$( { { ${body}; echo $? >&3; } | base64 >&4; } 3>&1 )`,
    "exec 4>&-",
    `printf '%s\\n' "${marker} end $rc"`,
    "",
  ].join("\n");
}

/** NUL-separated roots on stdin for `command`, from the printf builtin (no ARG_MAX limit). */
function rootsInto(roots: readonly string[], command: string): string {
  return `printf '%s\\0' ${rootArgs(roots).map(quote).join(" ")} | ${command}`;
}

export function listScript(projectDir: string, marker: string, roots: readonly string[]): string {
  return framedScript(projectDir, marker, rootsInto(roots, LIST_SCRIPT));
}

export function untrackedScript(projectDir: string, marker: string): string {
  return framedScript(projectDir, marker, "{ git ls-files -o -z 2>/dev/null || true; }");
}

export function fetchScript(projectDir: string, marker: string, roots: readonly string[]): string {
  return framedScript(projectDir, marker, rootsInto(roots, TAR_CREATE_SCRIPT));
}

/**
 * The script that extracts a tar into `projectDir`: the head, the tar's base64 lines (written
 * by the executor as they are encoded), the tail. Its end marker carries tar's exit code.
 */
export function pushScript(projectDir: string, marker: string): { head: string; tail: string } {
  const dir = quote(projectDir);
  return {
    head: `mkdir -p ${dir} && cd ${dir} || exit 1\nbase64 -d <<'${marker}' | ${TAR_EXTRACT_SCRIPT}\n`,
    tail: `${marker}\nprintf '%s\\n' "${marker} end $?"\n`,
  };
}

/** Bytes per base64 line the worker writes: 4096 characters, few enough lines to encode fast. */
const LINE_BYTES = 3072;

/** Encodes a byte stream as base64 lines (any width decodes: base64 -d skips newlines). */
export class Base64Lines {
  private rest = Buffer.alloc(0);

  /** The complete lines `chunk` finishes, each ending in a newline. */
  push(chunk: Uint8Array): string {
    const all = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : Buffer.from(chunk);
    const whole = all.length - (all.length % LINE_BYTES);
    this.rest = Buffer.from(all.subarray(whole));
    let out = "";
    for (let i = 0; i < whole; i += LINE_BYTES)
      out += `${all.subarray(i, i + LINE_BYTES).toString("base64")}\n`;
    return out;
  }

  end(): string {
    const last = this.rest.length > 0 ? `${this.rest.toString("base64")}\n` : "";
    this.rest = Buffer.alloc(0);
    return last;
  }
}

/** What a framed script's output held, once read to its end. */
export interface FrameEnd {
  /** The body's exit code from the end marker; undefined when no end marker came (script not run). */
  exitCode?: number;
  /** Lines inside the frame that are not base64: the data cannot be trusted. */
  corrupt?: string;
}

/**
 * Reads a framed script's stdout as it arrives: base64 inside the frame is decoded to `onData`
 * a chunk at a time (not per line: megabytes a second of lines), every other line goes to
 * `onOther`.
 */
export class FrameReader {
  private pending = Buffer.alloc(0);
  private state: "before" | "data" | "after" = "before";
  private carry = "";
  private result: FrameEnd = {};
  private readonly endPrefix: Buffer;

  constructor(
    private readonly marker: string,
    private readonly onData: (bytes: Buffer) => void,
    private readonly onOther: (line: string) => void = () => {},
  ) {
    this.endPrefix = Buffer.from(`${marker} end `);
  }

  write(chunk: Uint8Array): void {
    this.pending = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk);
    this.drain(false);
  }

  end(): FrameEnd {
    this.drain(true);
    if (this.state === "data" && this.result.exitCode === undefined) this.result.corrupt ??= "no end marker";
    return this.result;
  }

  private drain(final: boolean): void {
    for (;;) {
      if (this.state === "data") {
        const endAt = this.endMarkerAt();
        const upto = endAt >= 0 ? endAt : final ? this.pending.length : this.pending.lastIndexOf(10) + 1;
        if (upto > 0) {
          this.data(this.pending.subarray(0, upto));
          this.pending = this.pending.subarray(upto);
        }
        if (endAt < 0) return;
      }
      const nl = this.pending.indexOf(10);
      if (nl < 0) {
        if (final && this.pending.length > 0) this.line(this.pending.toString("utf8"));
        if (final) this.pending = Buffer.alloc(0);
        return;
      }
      this.line(this.pending.subarray(0, nl).toString("utf8"));
      this.pending = this.pending.subarray(nl + 1);
    }
  }

  /** Where the end marker's line starts in `pending`, or -1. */
  private endMarkerAt(): number {
    for (
      let i = this.pending.indexOf(this.endPrefix);
      i >= 0;
      i = this.pending.indexOf(this.endPrefix, i + 1)
    )
      if (i === 0 || this.pending[i - 1] === 10) return i;
    return -1;
  }

  private data(bytes: Buffer): void {
    const text = bytes.toString("latin1").replace(/[\r\n]/g, "");
    if (!/^[A-Za-z0-9+/=]*$/.test(text)) {
      this.result.corrupt ??= `a line that is not base64 (${JSON.stringify(text.replace(/[A-Za-z0-9+/=]/g, "").slice(0, 20))})`;
      return;
    }
    const all = this.carry + text;
    const whole = all.length - (all.length % 4);
    this.carry = all.slice(whole);
    if (whole > 0) this.onData(Buffer.from(all.slice(0, whole), "base64"));
  }

  private line(raw: string): void {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const end = `${this.marker} end `;
    if (this.state !== "after" && line.startsWith(end)) {
      const code = Number(line.slice(end.length));
      this.result.exitCode = Number.isInteger(code) ? code : -1;
      if (this.carry !== "") this.result.corrupt ??= "a truncated base64 line";
      this.state = "after";
      return;
    }
    if (this.state === "before" && line === `${this.marker} begin`) {
      this.state = "data";
      return;
    }
    this.onOther(line);
  }
}
