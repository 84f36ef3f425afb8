// What each build stage's script contains (GitLab Runner's shells/abstract.go): exports, the cd
// into the project, the echoed user commands, the git commands of get_sources. Pure: the
// output is the text handed to an executor, which knows nothing of stages.
import { BashWriter, isShellIdentifier, type ShellName } from "./bash.ts";

/** A job variable as scripts export it: libs/job's Variable fits; the shell needs no more. */
export interface ScriptVariable {
  key: string;
  value: string;
  /** A file variable: `value` is the content, written to `<tmp dir>/<key>`; the export is the path. */
  file?: boolean;
}

/** What every stage script needs to know about the job. `variables` are already expanded. */
export interface ScriptEnv {
  shell: ShellName;
  variables: readonly ScriptVariable[];
  projectDir: string;
  /** `<project dir>.tmp`: file variables and the GITLAB_ENV file. */
  tmpDir: string;
  /** CI_DEBUG_TRACE (unless the runner disables it): `set -o xtrace`. */
  debugTrace?: boolean;
  /**
   * FF_POSIXLY_CORRECT_ESCAPES: POSIX single quotes instead of bash's `$'...'`. `sh` always
   * gets POSIX quoting: dash cannot read `$'...'` (GitLab would write it and fail).
   */
  posixEscapes?: boolean;
}

/** A writer quoting the way GitLab Runner's bash shell does for this job. */
export function scriptWriter(env: Pick<ScriptEnv, "shell" | "posixEscapes">): BashWriter {
  return new BashWriter({ quote: env.shell === "bash" && !env.posixEscapes ? "ansi-c" : "posix" });
}

export const GITLAB_ENV_FILE = "gitlab_runner_env";

/**
 * Exports every variable in list order (a later duplicate overrides an earlier one, as lookups
 * do), then GITLAB_ENV and whatever earlier stages wrote to it.
 */
export function writeExports(w: BashWriter, env: ScriptEnv): void {
  for (const v of env.variables) {
    // A name the shell cannot export would kill the script under errexit; GitLab only passes
    // such names to executors that set the environment directly.
    if (!isShellIdentifier(v.key)) continue;
    if (v.file) w.exportFile(v.key, v.value, env.tmpDir, fileVariablePath(env.tmpDir, v.key));
    else w.export(v.key, v.value);
  }
  const envFile = gitlabEnvPath(env.tmpDir);
  w.export("GITLAB_ENV", envFile);
  w.sourceEnv(env.tmpDir, envFile, { gitlabForm: env.debugTrace });
}

/** Where a file variable's content is written; the variable holds this path. */
export function fileVariablePath(tmpDir: string, key: string): string {
  return `${tmpDir}/${key}`;
}

/** Where $GITLAB_ENV points: the KEY=value lines later stages of the same job export. */
export function gitlabEnvPath(tmpDir: string): string {
  return `${tmpDir}/${GITLAB_ENV_FILE}`;
}

/** Echo `$ <first line>` in bold green, then run the command as written. */
export function writeCommands(w: BashWriter, commands: readonly string[]): void {
  for (const raw of commands) {
    const command = raw.trim();
    if (command === "") {
      w.emptyLine();
    } else {
      const [first, ...rest] = command.split("\n");
      w.notice(rest.length > 0 ? `$ ${first} # collapsed multi-line command` : `$ ${first}`);
    }
    w.line(command);
  }
}

function finish(w: BashWriter, env: ScriptEnv): string {
  return w.finish(env.shell, { trace: env.debugTrace });
}

/**
 * prepare_script: says where the job runs, `via` the executor's host name when it names one
 * (GitLab's Build.Hostname, e.g. the custom executor's config_exec `hostname`), and removes a
 * $GITLAB_ENV file a job before left behind (one that ended before its cleanup), as GitLab's
 * prepare script does. The name is printed as given: quoted so the shell expands nothing in it
 * (GitLab's strconv.Quote would let `$` through).
 */
export function prepareScript(
  env: Pick<ScriptEnv, "shell" | "debugTrace" | "posixEscapes" | "tmpDir">,
  hostname?: string,
  /**
   * The host's name when the stage runs on the worker's own host (Executor.local): written in
   * instead of `$(hostname)`, which forks a process per job for the same answer (issue 16). The
   * debug trace keeps `$(hostname)`, as GitLab's script shows it there.
   */
  localHostname?: string,
): string {
  const w = scriptWriter(env);
  const quoted = (s: string) => s.replace(/[\\"$`]/g, (c) => `\\${c}`);
  const via = hostname ? ` via ${quoted(hostname)}` : "";
  const host = localHostname !== undefined && !env.debugTrace ? quoted(localHostname) : "$(hostname)";
  w.line(`echo "Running on ${host}${via}..."`);
  const envFile = gitlabEnvPath(env.tmpDir);
  // GitLab's `rm -f` forks on every job; cleanup has normally removed the file already.
  if (env.debugTrace) w.rmFile(envFile);
  else w.line(`[ ! -e ${w.quote(envFile)} ] || rm -f ${w.quote(envFile)}`);
  return w.finish(env.shell, { trace: env.debugTrace });
}

export interface UserScriptSpec {
  commands: readonly string[];
  /** Runner `pre_build_script` / `post_build_script`, each run as one command. */
  preBuildScript?: string;
  postBuildScript?: string;
}

/** step_<name>: exports, cd, pre_build_script, the step's lines, post_build_script. */
export function userScript(env: ScriptEnv, spec: UserScriptSpec): string {
  const w = scriptWriter(env);
  writeExports(w, env);
  w.cd(env.projectDir);
  if (spec.preBuildScript) writeCommands(w, [spec.preBuildScript]);
  writeCommands(w, spec.commands);
  if (spec.postBuildScript) writeCommands(w, [spec.postBuildScript]);
  return finish(w, env);
}

export function afterScript(env: ScriptEnv, commands: readonly string[]): string {
  const w = scriptWriter(env);
  writeExports(w, env);
  w.cd(env.projectDir);
  w.notice("Running after script...");
  writeCommands(w, commands);
  return finish(w, env);
}

/**
 * The files cleanup_file_variables removes, as GitLab's cleanup script does on every job: the
 * $GITLAB_ENV file (or the next job in this dir would export what this one wrote) and each file
 * variable's file.
 */
export function cleanupFiles(env: Pick<ScriptEnv, "variables" | "tmpDir">): string[] {
  return [
    gitlabEnvPath(env.tmpDir),
    ...env.variables.filter((v) => v.file).map((v) => fileVariablePath(env.tmpDir, v.key)),
  ];
}

/** cleanup_file_variables: `rm -f` of each of cleanupFiles. */
export function cleanupFileVariablesScript(env: ScriptEnv): string {
  const w = scriptWriter(env);
  for (const path of cleanupFiles(env)) w.rmFile(path);
  return finish(w, env);
}
