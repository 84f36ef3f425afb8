// The PowerShell (pwsh) script writer, after GitLab Runner's shells/powershell.go PsWriter:
// variables as `$NAME=...` plus `$env:NAME=$NAME`, file variables written with WriteAllText,
// each user command echoed in green and followed by an exit-code check. Pure; not wired into
// the shell executor (no pwsh on the machines runmesh is tested on), unit-tested only.
import type { ScriptVariable as Variable } from "./stage-scripts.ts";

const ESC = "`e";

/** A PowerShell double-quoted string: backtick escapes for `, ", $ and control characters. */
export function psQuote(value: string): string {
  let out = "";
  for (const c of value) {
    switch (c) {
      case "`":
        out += "``";
        break;
      case '"':
        out += '`"';
        break;
      case "$":
        out += "`$";
        break;
      case "\n":
        out += "`n";
        break;
      case "\r":
        out += "`r";
        break;
      case "\t":
        out += "`t";
        break;
      case "\x1b":
        out += ESC;
        break;
      case "\0":
        out += "`0";
        break;
      default:
        out += c;
    }
  }
  return `"${out}"`;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** After a command: `$?` false means it failed; exit with its code (1 for cmdlets). */
export const PS_CHECK_ERROR = "if(!$?) { Exit &{if($LASTEXITCODE) {$LASTEXITCODE} else {1}} }";

export class PwshWriter {
  private readonly lines: string[] = [];

  line(text: string): void {
    this.lines.push(text);
  }

  notice(text: string): void {
    this.line(`echo ${psQuote(`\x1b[32;1m${text}\x1b[0;m`)}`);
  }

  variable(v: Variable, tmpDir: string): void {
    if (!IDENTIFIER.test(v.key)) return;
    if (v.file) {
      const path = `${tmpDir}/${v.key}`;
      this.line(`New-Item -ItemType directory -Force -Path ${psQuote(tmpDir)} | out-null`);
      this.line(`[System.IO.File]::WriteAllText(${psQuote(path)}, ${psQuote(v.value)})`);
      this.line(`$${v.key}=${psQuote(path)}`);
    } else {
      this.line(`$${v.key}=${psQuote(v.value)}`);
    }
    this.line(`$env:${v.key}=$${v.key}`);
  }

  cd(path: string): void {
    this.line(`cd ${psQuote(path)}`);
    this.line(PS_CHECK_ERROR);
  }

  /** Each command echoed as `$ <first line>`, run, then checked. */
  commands(commands: readonly string[]): void {
    for (const raw of commands) {
      const command = raw.trim();
      const [first, ...rest] = command.split("\n");
      this.notice(rest.length > 0 ? `$ ${first} # collapsed multi-line command` : `$ ${first}`);
      this.line(command);
      this.line(PS_CHECK_ERROR);
    }
  }

  /** The whole script: the body in a script block with errors stopping it, as GitLab wraps it. */
  finish(options: { trace?: boolean } = {}): string {
    let out = "& {\n";
    out += '$ErrorActionPreference = "Stop"\n';
    if (options.trace) out += "Set-PSDebug -Trace 2\n";
    out += this.lines.map((l) => `${l}\n`).join("");
    out += "}\n";
    out += `${PS_CHECK_ERROR}\n`;
    return out;
  }
}

export interface PwshScriptEnv {
  variables: readonly Variable[];
  projectDir: string;
  tmpDir: string;
  debugTrace?: boolean;
}

function prelude(w: PwshWriter, env: PwshScriptEnv): void {
  for (const v of env.variables) w.variable(v, env.tmpDir);
  w.cd(env.projectDir);
}

/** step_<name> for pwsh: variables, cd, pre_build_script, the lines, post_build_script. */
export function pwshUserScript(
  env: PwshScriptEnv,
  spec: { commands: readonly string[]; preBuildScript?: string; postBuildScript?: string },
): string {
  const w = new PwshWriter();
  prelude(w, env);
  if (spec.preBuildScript) w.commands([spec.preBuildScript]);
  w.commands(spec.commands);
  if (spec.postBuildScript) w.commands([spec.postBuildScript]);
  return w.finish({ trace: env.debugTrace });
}

export function pwshAfterScript(env: PwshScriptEnv, commands: readonly string[]): string {
  const w = new PwshWriter();
  prelude(w, env);
  w.notice("Running after script...");
  w.commands(commands);
  return w.finish({ trace: env.debugTrace });
}
