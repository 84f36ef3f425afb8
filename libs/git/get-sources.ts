// The get_sources stage (and clear_worktree, run before its retries) as GitLab Runner 19.x
// writes it in shells/abstract.go: fetch into a reused or fresh repository by refspecs, check
// out the SHA detached, clean, pull LFS objects, update submodules, run the hooks. Pure: it
// returns the text of a bash script; running it is the executor's business.
//
// Credentials go the way GitLab's default (authenticated URL helper) does: the remote in
// .git/config carries no token; `url.<with token>.insteadOf <without>` rules live in a config
// file in the temp dir beside the project (outside the work tree, so no job can commit or
// archive it), included from the repository's config and passed with `-c include.path=…` to
// submodule commands. Relative submodule URLs resolve against the token-less remote and are
// then rewritten by the same rules.
import type { JobPayload } from "../job/payload.ts";
import type { RunnerSettings } from "../job/runner-settings.ts";
import { ANSI, BashWriter, type ShellName, shellQuote } from "../shell/bash.ts";
import { writeCommands } from "../shell/stage-scripts.ts";
import {
  type GitSettings,
  type GitVariableSource,
  gitVariableValue,
  parseGitVariables,
} from "./git-variables.ts";
import { resolveRemoteUrls, schemeAndHost } from "./remote-url.ts";

/** Base name of the externalised git config (GitLab's name, so tooling that knows it still works). */
export const EXTERNAL_GIT_CONFIG_FILE = ".gitlab-runner.ext.conf";
/** Holds the absolute path of that file for every later git command of the script. */
export const EXTERNAL_GIT_CONFIG_ENV = "GLR_EXT_GIT_CONFIG_PATH";
const EXT = `"$${EXTERNAL_GIT_CONFIG_ENV}"`;

export interface GitTlsFiles {
  /** Path of the CA bundle file (CI_SERVER_TLS_CA_FILE): exported as GIT_SSL_CAINFO too. */
  caFile?: string;
  /** Client certificate and key (CI_SERVER_TLS_CERT_FILE / _KEY_FILE). */
  certFile?: string;
  keyFile?: string;
}

export interface GetSourcesInput {
  /** Absolute or relative to where the script starts (the executor's working directory). */
  projectDir: string;
  /** `<projectDir>.tmp` unless given: git template and the external git config go there. */
  tmpDir?: string;

  /** git_info.repo_url (carries `gitlab-ci-token:<token>@` as GitLab sends it). */
  repoUrl: string;
  /** The job token: put into clone_url-derived and insteadOf URLs. */
  jobToken: string;
  /** Runner `url`: the instance base that the insteadOf rules cover for submodules. */
  serverUrl?: string;
  /** Runner `clone_url`: when set (with a scheme), fetch from `<clone_url>/<CI_PROJECT_PATH>.git`. */
  cloneUrl?: string;

  refspecs: readonly string[];
  sha: string;
  ref: string;
  /** git_info.ref_type; kept for the native-clone path, which is not implemented (GitLab's FF is off by default). */
  refType?: string;
  /** git_info.depth (not GIT_DEPTH): 0 = full history, and an existing shallow repo is unshallowed. */
  depth: number;
  /** git_info.repo_object_format: "" or "sha1" is git's default, "sha256" adds --object-format. */
  objectFormat?: string;
  /** payload allow_git_fetch: default GIT_STRATEGY is fetch if true, clone otherwise. */
  allowGitFetch: boolean;

  /** The job's expanded variables: GIT_*, CI_PROJECT_PATH, CI_SERVER_HOST, CI_SERVER_SHELL_SSH_*. */
  variables: GitVariableSource;

  /** Runner `pre_get_sources_script` (runs first) and the job's pre_get_sources_script hook lines. */
  preGetSourcesScript?: string;
  preGetSourcesHook?: readonly string[];
  /** The job's post_get_sources_script hook lines, then runner `post_get_sources_script`. */
  postGetSourcesHook?: readonly string[];
  postGetSourcesScript?: string;

  tls?: GitTlsFiles;
  /**
   * Runner `clean_git_config`: delete the repository's and submodules' config and hooks before
   * fetching. GitLab's default is on for every executor but shell; the caller decides.
   */
  cleanGitConfig?: boolean;
  /** `git config --global --add safe.directory <projectDir>` (containers whose uid differs from the owner). */
  safeDirectory?: boolean;
  /** Sent as `http.userAgent`; GitLab sends "gitlab-runner <version> <os>/<arch>". */
  userAgent?: string;

  shell?: ShellName;
  /** CI_DEBUG_TRACE: `set -o xtrace`. */
  debugTrace?: boolean;
  /** Writes what every stage starts with (variable exports, GITLAB_ENV) before the git part. */
  writePrelude?: (w: BashWriter) => void;
}

/** A job setting that makes the stage impossible; GitLab fails the job before running anything. */
export class GitSourcesConfigError extends Error {
  override name = "GitSourcesConfigError";
}

/**
 * The whole get_sources script. Throws GitSourcesConfigError for an unknown
 * GIT_SUBMODULE_STRATEGY or an unusable GIT_SUBMODULE_PATHS, as GitLab Runner does; warnings
 * for other bad GIT_* values come from `parseGitVariables`, for the caller to print.
 */
export function getSourcesScript(input: GetSourcesInput): string {
  const { settings } = parseGitVariables(input.variables, {
    allowGitFetch: input.allowGitFetch,
    depth: input.depth,
  });
  if (settings.submoduleStrategy === undefined) {
    throw new GitSourcesConfigError(
      `unknown GIT_SUBMODULE_STRATEGY ${JSON.stringify(gitVariableValue(input.variables, "GIT_SUBMODULE_STRATEGY"))}: use none, normal or recursive`,
    );
  }
  if (settings.submodulePaths.includes(":(exclude)")) {
    throw new GitSourcesConfigError(
      `GIT_SUBMODULE_PATHS: invalid submodule pathspec ${JSON.stringify(settings.submodulePaths.join(" "))}: write ":(exclude)path" without a space`,
    );
  }

  const w = new BashWriter();
  input.writePrelude?.(w);
  w.export("GIT_TERMINAL_PROMPT", "0");
  w.export("GCM_INTERACTIVE", "Never");
  // Environments like this machine's export GIT_SSL_CAINFO, which beats any http.sslCAInfo.
  if (input.tls?.caFile) w.export("GIT_SSL_CAINFO", input.tls.caFile);

  const hasRepo = settings.strategy === "clone" || settings.strategy === "fetch";
  const pre = [
    ...(input.preGetSourcesScript ? [input.preGetSourcesScript] : []),
    ...(input.preGetSourcesHook ?? []),
  ];
  if (hasRepo && pre.length > 0) writeCommands(w, pre);

  // Smudging during checkout can run out of memory on big LFS files (gitlab-runner#3366):
  // check out pointers, then `git lfs pull`. A user's own GIT_LFS_SKIP_SMUDGE means no LFS.
  if (!settings.lfsSkipSmudge) w.export("GIT_LFS_SKIP_SMUDGE", "1");

  const ctx: Ctx = {
    w,
    input,
    settings,
    projectDir: input.projectDir,
    tmpDir: input.tmpDir ?? `${input.projectDir}.tmp`,
    recursive: settings.submoduleStrategy === "recursive",
  };
  switch (settings.strategy) {
    case "clone":
    case "fetch":
      writeFetch(ctx);
      break;
    case "none":
      w.notice("Skipping Git repository setup");
      w.mkdir(input.projectDir);
      break;
    case "empty":
      w.notice("Skipping Git repository setup and creating an empty build directory");
      w.rmDir(input.projectDir);
      w.mkdir(input.projectDir);
      break;
  }

  if (settings.checkout) {
    writeCheckout(ctx);
  } else {
    w.notice("Skipping Git checkout");
  }

  if (settings.submoduleStrategy === "none") w.notice("Skipping Git submodules setup");
  else writeSubmodules(ctx);

  const post = [
    ...(input.postGetSourcesHook ?? []),
    ...(input.postGetSourcesScript ? [input.postGetSourcesScript] : []),
  ];
  if (hasRepo && post.length > 0) writeCommands(w, post);

  return w.finish(input.shell ?? "bash", { trace: input.debugTrace });
}

/** What a get_sources stage does when it needs no shell: fixed lines and the project dir. */
export interface GetSourcesWithoutShell {
  /** The stage's output, byte for byte what its script prints. */
  output: string;
  /** Removed first (GIT_STRATEGY empty). */
  removeDir?: string;
  /** Then made, with parents. */
  makeDir: string;
}

/**
 * get_sources without a shell, when its script would do nothing but print notices and make (or
 * empty) the project dir: GIT_STRATEGY none or empty, no checkout, no submodules (hooks run only
 * with a repository). undefined when the stage needs its script. The output is the script's:
 * the same notices in the same colours (tested against the script's own run).
 */
export function getSourcesWithoutShell(input: GetSourcesInput): GetSourcesWithoutShell | undefined {
  if (input.debugTrace) return undefined; // xtrace output is the script's own
  const { settings } = parseGitVariables(input.variables, {
    allowGitFetch: input.allowGitFetch,
    depth: input.depth,
  });
  if (settings.strategy !== "none" && settings.strategy !== "empty") return undefined;
  if (settings.checkout || settings.submoduleStrategy !== "none") return undefined;
  const notice = (text: string) => `${ANSI.boldGreen}${text}${ANSI.reset}\n`;
  const first =
    settings.strategy === "none"
      ? "Skipping Git repository setup"
      : "Skipping Git repository setup and creating an empty build directory";
  return {
    output: notice(first) + notice("Skipping Git checkout") + notice("Skipping Git submodules setup"),
    ...(settings.strategy === "empty" ? { removeDir: input.projectDir } : {}),
    makeDir: input.projectDir,
  };
}

export interface ClearWorktreeInput {
  projectDir: string;
  shell?: ShellName;
  debugTrace?: boolean;
  writePrelude?: (w: BashWriter) => void;
}

/**
 * clear_worktree, run once before the second get_sources attempt: `git clean` alone cannot fix
 * e.g. an untracked file inside an uninitialised submodule; `git rm -rf .` removes it.
 */
export function clearWorktreeScript(input: ClearWorktreeInput | string): string {
  const o: ClearWorktreeInput = typeof input === "string" ? { projectDir: input } : input;
  const w = new BashWriter();
  o.writePrelude?.(w);
  w.notice("Deleting tracked and untracked files...");
  w.line(`if [ -d ${shellQuote(o.projectDir)} ]; then`);
  w.cd(o.projectDir);
  w.command("git", "rm", "-rf", "--ignore-unmatch", ".");
  w.command("git", "clean", "-ffdx");
  w.line("fi");
  return w.finish(o.shell ?? "bash", { trace: o.debugTrace });
}

/** Go's regexp.QuoteMeta: the value patterns of `git config --replace-all` are regexes. */
function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");
}

function isAbsolute(path: string): boolean {
  return path.startsWith("/");
}

interface Ctx {
  w: BashWriter;
  input: GetSourcesInput;
  settings: GitSettings;
  projectDir: string;
  tmpDir: string;
  recursive: boolean;
}

function writeFetch(c: Ctx): void {
  const { w, input, settings, projectDir } = c;
  const remote = resolveRemoteUrls({
    repoUrl: input.repoUrl,
    jobToken: input.jobToken,
    cloneUrl: input.cloneUrl,
    serverUrl: input.serverUrl,
    projectPath: gitVariableValue(input.variables, "CI_PROJECT_PATH"),
    submoduleForceHttps: settings.submoduleForceHttps,
    serverHost: gitVariableValue(input.variables, "CI_SERVER_HOST"),
    serverShellSshHost: gitVariableValue(input.variables, "CI_SERVER_SHELL_SSH_HOST"),
    serverShellSshPort: gitVariableValue(input.variables, "CI_SERVER_SHELL_SSH_PORT"),
  });

  writeGitCleanup(c);

  // Template: what a fresh `git init` starts from.
  const templateDir = `${c.tmpDir}/git-template`;
  const templateFile = `${templateDir}/config`;
  w.mkdir(templateDir);
  if (input.safeDirectory) w.command("git", "config", "--global", "--add", "safe.directory", projectDir);
  w.command("git", "config", "-f", templateFile, "init.defaultBranch", "none");
  w.command("git", "config", "-f", templateFile, "fetch.recurseSubmodules", "false");
  w.command("git", "config", "-f", templateFile, "credential.interactive", "never");
  w.command("git", "config", "-f", templateFile, "gc.autoDetach", "false");

  // The external config: its path must be absolute, since git reads it from other directories.
  const extFile = `${c.tmpDir}/${EXTERNAL_GIT_CONFIG_FILE}`;
  w.line(
    `export ${EXTERNAL_GIT_CONFIG_ENV}=${isAbsolute(extFile) ? shellQuote(extFile) : `"$PWD"/${shellQuote(extFile)}`}`,
  );
  w.line(`rm -f ${EXT}`);
  const host = schemeAndHost(remote.withoutCredentials);
  const tls = input.tls ?? {};
  if (host) {
    for (const [key, file] of [
      ["sslCAInfo", tls.caFile],
      ["sslCert", tls.certFile],
      ["sslKey", tls.keyFile],
    ] as const) {
      if (file) w.line(`git config --file ${EXT} ${shellQuote(`http.${host}.${key}`)} ${shellQuote(file)}`);
    }
  }
  for (const [replacement, original] of remote.insteadOfs) {
    w.line(
      `git config --file ${EXT} --replace-all ${shellQuote(`url.${replacement}.insteadOf`)} ${shellQuote(original)} ${shellQuote(`^${quoteMeta(original)}$`)}`,
    );
  }
  const includePattern = shellQuote(`${quoteMeta(EXTERNAL_GIT_CONFIG_FILE)}$`);
  w.line(`git config --file ${shellQuote(templateFile)} --replace-all include.path ${EXT} ${includePattern}`);

  if (settings.strategy === "clone") w.rmDir(projectDir);

  const depth = input.depth;
  w.notice(depth > 0 ? `Fetching changes with git depth set to ${depth}...` : "Fetching changes...");
  const init = ["init", projectDir, "--template", templateDir];
  const format = input.objectFormat ?? "";
  if (format !== "" && format !== "sha1") init.push("--object-format", format);
  w.command("git", ...init);
  w.cd(projectDir);

  w.ifCmd("git", "remote", "add", "origin", remote.withoutCredentials);
  w.notice("Created fresh repository.");
  w.else();
  w.command("git", "remote", "set-url", "origin", remote.withoutCredentials);
  // An existing repository was not made from the template: include the external config here.
  w.line(`git config --file .git/config --replace-all include.path ${EXT} ${includePattern}`);
  w.endIf();

  const fetch = [
    "-c",
    `http.userAgent=${input.userAgent ?? "runmesh"}`,
    "fetch",
    "origin",
    "--no-recurse-submodules",
    ...input.refspecs,
  ];
  if (depth > 0) fetch.push("--depth", String(depth));
  fetch.push(...settings.fetchFlags);
  if (depth > 0) {
    w.command("git", ...fetch);
  } else {
    // Full history wanted, but an earlier job may have left a shallow clone behind.
    w.ifFile(".git/shallow");
    w.command("git", ...fetch, "--unshallow");
    w.else();
    w.command("git", ...fetch);
    w.endIf();
  }
}

/**
 * Lock files left by a job killed during a git operation make the next fetch fail; a
 * post-checkout hook from an earlier job must not run in this one.
 */
function writeGitCleanup(c: Ctx): void {
  const { w, projectDir } = c;
  const gitDir = `${projectDir}/.git`;
  const withSubmodules = c.settings.submoduleStrategy !== "none";
  for (const f of ["index.lock", "shallow.lock", "HEAD.lock", "hooks/post-checkout", "config.lock"]) {
    w.rmFile(`${gitDir}/${f}`);
    if (withSubmodules) findDelete(w, `${gitDir}/modules`, f.split("/").pop()!, "f");
  }
  findDelete(w, `${gitDir}/refs`, "*.lock", "f");

  // Config and hooks are where a previous job could plant code that runs in this one.
  if (c.input.cleanGitConfig) {
    for (const dir of [`${c.tmpDir}/git-template`, gitDir]) {
      w.rmFile(`${dir}/config`);
      w.rmDir(`${dir}/hooks`);
    }
    if (withSubmodules) {
      findDelete(w, `${gitDir}/modules`, "config", "f");
      findDelete(w, `${gitDir}/modules`, "hooks", "d");
    }
  }
}

function findDelete(w: BashWriter, dir: string, name: string, type: "f" | "d"): void {
  const rm = type === "f" ? "rm -f" : "rm -r -f";
  w.line(
    `if [ -d ${shellQuote(dir)} ]; then find ${shellQuote(dir)} -name ${shellQuote(name)} -type ${type} -exec ${rm} {} +; fi`,
  );
}

function writeCheckout(c: Ctx): void {
  const { w, input, settings } = c;
  w.notice(`Checking out ${input.sha.slice(0, 8)} as detached HEAD (ref is ${input.ref})...`);
  w.command("git", "-c", "submodule.recurse=false", "checkout", "-f", "-q", input.sha);
  if (settings.cleanFlags.length > 0) w.command("git", "clean", ...settings.cleanFlags);
  if (!settings.lfsSkipSmudge) {
    w.ifCmd("git", "lfs", "version");
    w.command("git", "lfs", "pull");
    w.emptyLine();
    w.endIf();
  }
}

function writeSubmodules(c: Ctx): void {
  const { w, settings } = c;
  const recursive = c.recursive;
  const depth = settings.submoduleDepth;
  w.notice(
    `Updating/initializing submodules${recursive ? " recursively" : ""}${depth > 0 ? ` with git depth set to ${depth}` : ""}...`,
  );

  const rec = recursive ? ["--recursive"] : [];
  const paths = settings.submodulePaths.length > 0 ? ["--", ...settings.submodulePaths] : [];
  const sync = ["submodule", "sync", ...rec, ...paths];
  const update = ["submodule", "update", "--init", ...rec];
  if (depth > 0) update.push("--depth", String(depth));
  update.push(...settings.submoduleUpdateFlags, ...paths);
  const foreach = ["submodule", "foreach", ...rec];
  // `foreach` hands its argument to a shell: each user flag is quoted into it as one word.
  const cleanFlags = settings.cleanFlags.length > 0 ? settings.cleanFlags : ["-ffdx"];
  const clean = `git clean ${cleanFlags.map(shellQuote).join(" ")}`;
  // Submodule commands do not read the superproject's config: pass the credentials along.
  const withCreds = (args: readonly string[]) =>
    `git -c "include.path=$${EXTERNAL_GIT_CONFIG_ENV}" ${args.map(shellQuote).join(" ")}`;

  // init before sync, so that .git/config lists every submodule.
  w.command("git", "submodule", "init");
  w.command("git", ...sync);
  w.command("git", ...foreach, clean);
  w.command("git", ...foreach, "git reset --hard");

  w.line(`if ${withCreds(update)}; then`);
  w.notice("Updated submodules");
  w.command("git", ...sync);
  w.line("else");
  w.warning("Updating submodules failed. Retrying...");
  if (settings.submoduleUpdateFlags.some((f) => f.toLowerCase() === "--remote")) {
    // `--remote` with a non-default `branch` in .gitmodules needs the remote heads.
    w.line(withCreds([...foreach, "git fetch origin +refs/heads/*:refs/remotes/origin/*"]));
  }
  w.command("git", ...sync);
  w.line(withCreds(update));
  w.command("git", ...foreach, "git reset --hard");
  w.line("fi");

  w.command("git", ...foreach, clean);

  // So that `cd sub && git pull` in the job's script authenticates like the parent; every
  // level, even for the normal strategy, as GitLab does.
  w.notice("Configuring submodules to use parent git credentials...");
  w.command(
    "git",
    "submodule",
    "foreach",
    "--recursive",
    `git config --replace-all include.path "$${EXTERNAL_GIT_CONFIG_ENV}"`,
  );

  if (!settings.lfsSkipSmudge) {
    w.ifCmd("git", "lfs", "version");
    w.notice("Pulling LFS files...");
    w.line(withCreds([...foreach, "git lfs pull"]));
    w.endIf();
  }
}

/** What getSourcesScript needs, taken from a parsed job payload and its runner entry. */
export interface GetSourcesFromJob {
  job: Pick<JobPayload, "token" | "allow_git_fetch" | "git_info" | "hooks">;
  runner: Pick<RunnerSettings, "url" | "clone_url" | "pre_get_sources_script" | "post_get_sources_script">;
  /** The job's expanded variable list. */
  variables: GitVariableSource;
  projectDir: string;
  tmpDir?: string;
  tls?: GitTlsFiles;
}

export function getSourcesInputFromJob(o: GetSourcesFromJob): GetSourcesInput {
  const g = o.job.git_info;
  const hook = (name: string) => o.job.hooks.find((h) => h.name === name)?.script ?? [];
  return {
    projectDir: o.projectDir,
    tmpDir: o.tmpDir,
    repoUrl: g.repo_url,
    jobToken: o.job.token,
    serverUrl: o.runner.url,
    cloneUrl: o.runner.clone_url,
    refspecs: g.refspecs,
    sha: g.sha,
    ref: g.ref,
    refType: g.ref_type,
    depth: g.depth,
    objectFormat: g.repo_object_format,
    allowGitFetch: o.job.allow_git_fetch,
    variables: o.variables,
    preGetSourcesScript: o.runner.pre_get_sources_script,
    preGetSourcesHook: hook("pre_get_sources_script"),
    postGetSourcesHook: hook("post_get_sources_script"),
    postGetSourcesScript: o.runner.post_get_sources_script,
    tls: o.tls,
  };
}
