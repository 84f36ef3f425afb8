// Help and version text in GitLab Runner's layout (urfave/cli v1 app and command help;
// common/version.go's Extended() for --version), naming runmesh.
import { optionsHelp, type VerbSpec } from "./option-table.ts";
import { GLOBAL_OPTIONS, VERBS } from "./verbs.ts";

export const EXIT_CODES = `EXIT CODES:
   0  done (status: the service is running)
   1  failed: GitLab refused or could not be reached, verify found a runner GitLab does not know
      (without --delete), the config file is unusable, or (status) the service is not running
   2  usage error: unknown verb or option, option given to a verb that does not take it`;

export function appHelp(version: string): string {
  const width = Math.max(...VERBS.map((v) => v.name.length));
  return `NAME:
   runmesh - a GitLab Runner compatible CI runner, as a mesh of services over NATS

USAGE:
   runmesh [global options] command [command options]

VERSION:
   ${version}

COMMANDS:
${VERBS.map((v) => `   ${v.name.padEnd(width)}  ${v.summary}`).join("\n")}
   help, h${" ".repeat(Math.max(1, width - 5))}Shows a list of commands or help for one command

GLOBAL OPTIONS:
${optionsHelp(GLOBAL_OPTIONS)}

${EXIT_CODES}`;
}

export function verbHelp(verb: VerbSpec): string {
  return `NAME:
   runmesh ${verb.name} - ${verb.summary}

USAGE:
   runmesh [global options] ${verb.name} [command options]

OPTIONS:
${optionsHelp(verb.options)}

${EXIT_CODES}`;
}

export interface VersionInfo {
  version: string;
  revision: string;
  branch?: string;
  builtAt?: string;
  runtime: string;
  os: string;
  arch: string;
}

/** GitLab Runner's `--version` block, one field per line, with runmesh's name and runtime. */
export function versionText(v: VersionInfo): string {
  return [
    `Name:         runmesh`,
    `Version:      ${v.version}`,
    `Git revision: ${v.revision}`,
    `Git branch:   ${v.branch ?? "HEAD"}`,
    `Bun version:  ${v.runtime}`,
    `Built:        ${v.builtAt ?? "unknown"}`,
    `OS/Arch:      ${v.os}/${v.arch}`,
    "",
  ].join("\n");
}

export function currentVersionInfo(version: string, revision: string): VersionInfo {
  const os = process.platform === "win32" ? "windows" : process.platform;
  const arch = process.arch === "x64" ? "amd64" : process.arch === "ia32" ? "386" : process.arch;
  return {
    version,
    revision,
    branch: process.env.RUNMESH_BRANCH,
    builtAt: process.env.RUNMESH_BUILT_AT,
    runtime: Bun.version,
    os,
    arch,
  };
}
