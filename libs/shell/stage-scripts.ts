// What each build stage's script contains (GitLab Runner's shells/abstract.go): exports, the cd
// into the project, the echoed user commands, the git commands of get_sources. Pure: the
// output is the text handed to an executor, which knows nothing of stages.
import type { Variable } from "../job/variables.ts";
import { BashWriter, isShellIdentifier, type ShellName, shellQuote } from "./bash.ts";

/** What every stage script needs to know about the job. `variables` are already expanded. */
export interface ScriptEnv {
  shell: ShellName;
  variables: readonly Variable[];
  projectDir: string;
  /** `<project dir>.tmp`: file variables and the GITLAB_ENV file. */
  tmpDir: string;
  /** CI_DEBUG_TRACE (unless the runner disables it): `set -o xtrace`. */
  debugTrace?: boolean;
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
    if (v.file) w.exportFile(v.key, v.value, env.tmpDir, `${env.tmpDir}/${v.key}`);
    else w.export(v.key, v.value);
  }
  const envFile = `${env.tmpDir}/${GITLAB_ENV_FILE}`;
  w.export("GITLAB_ENV", envFile);
  w.sourceEnv(env.tmpDir, envFile);
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

/** prepare_script: only says where the job runs. */
export function prepareScript(env: Pick<ScriptEnv, "shell" | "debugTrace">): string {
  const w = new BashWriter();
  w.line(`echo "Running on $(hostname)..."`);
  return w.finish(env.shell, { trace: env.debugTrace });
}

export type GitStrategy = "clone" | "fetch" | "none";
export type SubmoduleStrategy = "none" | "normal" | "recursive";

export interface GetSourcesSpec {
  strategy: GitStrategy;
  repoUrl: string;
  refspecs: readonly string[];
  /** git_info.depth: 0 = full history. */
  depth: number;
  sha: string;
  ref: string;
  /** "" or "sha1" ⇒ git's default; "sha256" ⇒ `git init --object-format sha256`. */
  objectFormat: string;
  checkout: boolean;
  cleanFlags: readonly string[];
  fetchFlags: readonly string[];
  submodules: SubmoduleStrategy;
  submoduleUpdateFlags: readonly string[];
  submoduleDepth: number;
  /** GIT_LFS_SKIP_SMUDGE set by the user: leave LFS alone. */
  lfsSkipSmudge: boolean;
  preScripts: readonly string[];
  postScripts: readonly string[];
  userAgent: string;
  /** Host part of the remote (`https://host:port`) when CI_SERVER_TLS_CA_FILE is set. */
  tlsCaHost?: string;
}

export function getSourcesScript(env: ScriptEnv, spec: GetSourcesSpec): string {
  const w = new BashWriter();
  writeExports(w, env);
  if (spec.tlsCaHost) {
    // This machine (and many CI hosts) export GIT_SSL_CAINFO, which beats http.sslCAInfo.
    w.line(`export GIT_SSL_CAINFO="$CI_SERVER_TLS_CA_FILE"`);
  }
  if (spec.strategy !== "none" && spec.preScripts.length > 0) writeCommands(w, spec.preScripts);

  if (!spec.lfsSkipSmudge) w.export("GIT_LFS_SKIP_SMUDGE", "1");
  if (spec.strategy === "none") {
    w.notice("Skipping Git repository setup");
    w.mkdir(env.projectDir);
  } else {
    if (spec.strategy === "clone") w.rmDir(env.projectDir);
    writeFetch(w, env, spec);
  }

  if (spec.checkout && spec.strategy !== "none") {
    w.notice(`Checking out ${spec.sha.slice(0, 8)} as detached HEAD (ref is ${spec.ref})...`);
    w.command("git", "checkout", "-f", "-q", spec.sha);
    if (spec.cleanFlags.length > 0) w.command("git", "clean", ...spec.cleanFlags);
    if (!spec.lfsSkipSmudge) {
      w.ifCmd("git", "lfs", "version");
      w.command("git", "lfs", "pull");
      w.emptyLine();
      w.endIf();
    }
  } else {
    w.notice("Skipping Git checkout");
  }

  writeSubmodules(w, spec);

  if (spec.strategy !== "none" && spec.postScripts.length > 0) writeCommands(w, spec.postScripts);
  return finish(w, env);
}

function writeFetch(w: BashWriter, env: ScriptEnv, spec: GetSourcesSpec): void {
  w.notice(
    spec.depth > 0 ? `Fetching changes with git depth set to ${spec.depth}...` : "Fetching changes...",
  );
  const templateDir = `${env.tmpDir}/git-template`;
  const templateFile = `${templateDir}/config`;
  w.mkdir(templateDir);
  w.command("git", "config", "-f", templateFile, "init.defaultBranch", "none");
  w.command("git", "config", "-f", templateFile, "fetch.recurseSubmodules", "false");
  if (spec.tlsCaHost) {
    w.line(
      `git config -f ${shellQuote(templateFile)} ${shellQuote(`http.${spec.tlsCaHost}.sslCAInfo`)} "$CI_SERVER_TLS_CA_FILE"`,
    );
  }
  // Lock files left by a job killed during a git operation would make the fetch fail.
  for (const f of ["index.lock", "shallow.lock", "HEAD.lock", "hooks/post-checkout", "config.lock"]) {
    w.rmFile(`${env.projectDir}/.git/${f}`);
  }
  const init = ["init", env.projectDir, "--template", templateDir];
  if (spec.objectFormat !== "" && spec.objectFormat !== "sha1")
    init.push("--object-format", spec.objectFormat);
  w.command("git", ...init);
  w.cd(env.projectDir);
  w.ifCmd("git", "remote", "add", "origin", spec.repoUrl);
  w.notice("Created fresh repository.");
  w.else();
  w.command("git", "remote", "set-url", "origin", spec.repoUrl);
  w.endIf();
  const fetch = ["-c", `http.userAgent=${spec.userAgent}`, "fetch", "origin", ...spec.refspecs];
  if (spec.depth > 0) fetch.push("--depth", String(spec.depth));
  fetch.push(...spec.fetchFlags);
  w.command("git", ...fetch);
}

function writeSubmodules(w: BashWriter, spec: GetSourcesSpec): void {
  if (spec.submodules === "none" || spec.strategy === "none") {
    w.notice("Skipping Git submodules setup");
    return;
  }
  const recursive = spec.submodules === "recursive";
  const depth = spec.submoduleDepth;
  w.notice(
    `Updating/initializing submodules${recursive ? " recursively" : ""}${depth > 0 ? ` with git depth set to ${depth}` : ""}...`,
  );
  const rec = recursive ? ["--recursive"] : [];
  w.command("git", "submodule", "init");
  w.command("git", "submodule", "sync", ...rec);
  const update = ["submodule", "update", "--init", ...rec];
  if (depth > 0) update.push("--depth", String(depth));
  update.push(...spec.submoduleUpdateFlags);
  w.command("git", "submodule", "foreach", ...rec, "git clean -ffxd");
  w.command("git", "submodule", "foreach", ...rec, "git reset --hard");
  w.command("git", ...update);
  w.command("git", "submodule", "foreach", ...rec, "git clean -ffxd");
  if (!spec.lfsSkipSmudge) {
    w.ifCmd("git", "lfs", "version");
    w.command("git", "submodule", "foreach", ...rec, "git lfs pull");
    w.endIf();
  }
}

export interface UserScriptSpec {
  commands: readonly string[];
  /** Runner `pre_build_script` / `post_build_script`, each run as one command. */
  preBuildScript?: string;
  postBuildScript?: string;
}

/** step_<name>: exports, cd, pre_build_script, the step's lines, post_build_script. */
export function userScript(env: ScriptEnv, spec: UserScriptSpec): string {
  const w = new BashWriter();
  writeExports(w, env);
  w.cd(env.projectDir);
  if (spec.preBuildScript) writeCommands(w, [spec.preBuildScript]);
  writeCommands(w, spec.commands);
  if (spec.postBuildScript) writeCommands(w, [spec.postBuildScript]);
  return finish(w, env);
}

export function afterScript(env: ScriptEnv, commands: readonly string[]): string {
  const w = new BashWriter();
  writeExports(w, env);
  w.cd(env.projectDir);
  w.notice("Running after script...");
  writeCommands(w, commands);
  return finish(w, env);
}

/** cleanup_file_variables, or undefined when the job has no file variable (stage skipped). */
export function cleanupFileVariablesScript(env: ScriptEnv): string | undefined {
  const files = env.variables.filter((v) => v.file);
  if (files.length === 0) return undefined;
  const w = new BashWriter();
  for (const v of files) w.rmFile(`${env.tmpDir}/${v.key}`);
  return finish(w, env);
}
