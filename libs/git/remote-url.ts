// Which URL git fetches from and how the job token reaches it (GitLab Runner's
// common/url_helper.go, authenticated mode, the default). The remote stored in .git/config has
// no credentials; `url.<with token>.insteadOf <without>` rules, kept in a config file outside
// the work tree, put the token back on the fly, for the project and for submodules with
// relative URLs on the same server alike. Pure.

export const CI_TOKEN_USER = "gitlab-ci-token";

export interface RemoteUrlInput {
  /** git_info.repo_url, as GitLab sends it (`https://gitlab-ci-token:<token>@host/group/p.git`). */
  repoUrl: string;
  jobToken: string;
  /** Runner `clone_url`: when it has a scheme, it replaces the host of repo_url. */
  cloneUrl?: string;
  /** Runner `url` (the GitLab instance): the base the insteadOf rules cover. */
  serverUrl?: string;
  /** CI_PROJECT_PATH (`group/project`), needed only with `cloneUrl`. */
  projectPath?: string;
  /** GIT_SUBMODULE_FORCE_HTTPS and the CI_SERVER_* values it needs. */
  submoduleForceHttps?: boolean;
  serverHost?: string;
  serverShellSshHost?: string;
  serverShellSshPort?: string;
}

export interface RemoteUrls {
  /** The remote URL with the token, as git needs to talk to the server. */
  withCredentials: string;
  /** The same URL without any userinfo: what `git remote` records. */
  withoutCredentials: string;
  /** `[replacement, original]` pairs for `git config url.<replacement>.insteadOf <original>`. */
  insteadOfs: [string, string][];
}

function tryParse(raw: string | undefined): URL | undefined {
  if (!raw) return undefined;
  try {
    return new URL(raw);
  } catch {
    return undefined;
  }
}

const isHttp = (u: URL) => u.protocol === "http:" || u.protocol === "https:";

/** Go's url.String() of a URL with an empty path has no trailing "/"; WHATWG adds one. */
function renderTrimmed(u: URL): string {
  return u.toString().replace(/\/+$/, "");
}

function withAuth(u: URL, token: string): URL {
  const c = new URL(u.toString());
  if (c.protocol === "ssh:") {
    if (c.username === "") c.username = "git";
  } else {
    c.username = CI_TOKEN_USER;
    c.password = token;
  }
  return c;
}

function withoutAuth(u: URL): URL {
  const c = new URL(u.toString());
  c.username = "";
  c.password = "";
  return c;
}

/** The URL's scheme and host only (`https://host:port`): the key of `http.<url>.*` settings. */
export function schemeAndHost(raw: string): string | undefined {
  const u = tryParse(raw);
  return u ? `${u.protocol}//${u.host}` : undefined;
}

export class RemoteUrlError extends Error {
  override name = "RemoteUrlError";
}

export function resolveRemoteUrls(input: RemoteUrlInput): RemoteUrls {
  const clone = tryParse(input.cloneUrl);
  let remote: URL | undefined;
  if (clone) {
    const project = new URL(clone.toString());
    const base = project.pathname.replace(/\/+$/, "");
    project.pathname = `${base}/${(input.projectPath ?? "").replace(/^\/+/, "")}.git`;
    remote = withAuth(project, input.jobToken);
  } else {
    remote = tryParse(input.repoUrl);
  }
  if (!remote) {
    throw new RemoteUrlError(
      `git remote: cannot parse the repository URL ${JSON.stringify(redact(input.repoUrl))}; ` +
        "check git_info.repo_url of the job and clone_url of the runner",
    );
  }

  const withCredentials = remote.toString();
  const withoutCredentials = withoutAuth(remote).toString();
  const insteadOfs: [string, string][] = [];
  if (withCredentials !== withoutCredentials) insteadOfs.push([withCredentials, withoutCredentials]);

  // The base of the server (clone_url, else the runner's url): covers relative submodule URLs.
  const base = clone ?? tryParse(input.serverUrl);
  if (base && isHttp(base)) {
    const baseWithAuth = renderTrimmed(withAuth(base, input.jobToken));
    insteadOfs.push([baseWithAuth, renderTrimmed(withoutAuth(base))]);
    if (input.submoduleForceHttps) insteadOfs.push(...forceHttpsInsteadOfs(baseWithAuth, input));
  }
  // The host of repo_url too: GitLab's API may name another host than clone_url / url.
  const repo = tryParse(input.repoUrl);
  if (repo && isHttp(repo)) {
    const repoBase = new URL(`${repo.protocol}//${repo.host}`);
    insteadOfs.push([renderTrimmed(withAuth(repoBase, input.jobToken)), renderTrimmed(repoBase)]);
  }

  return { withCredentials, withoutCredentials, insteadOfs: dedupe(insteadOfs) };
}

function forceHttpsInsteadOfs(baseWithAuth: string, input: RemoteUrlInput): [string, string][] {
  const host = input.serverShellSshHost || input.serverHost || "";
  const port = input.serverShellSshPort ?? "";
  if (port === "" || port === "22") {
    return [
      [`${baseWithAuth}/`, `git@${host}:`],
      [baseWithAuth, `ssh://git@${host}`],
    ];
  }
  return [[baseWithAuth, `ssh://git@${host}:${port}`]];
}

function dedupe(pairs: [string, string][]): [string, string][] {
  const seen = new Set<string>();
  return pairs.filter(([a, b]) => {
    const k = `${a}\n${b}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** A URL with its password replaced, for error messages. */
function redact(raw: string): string {
  return raw.replace(/([^\s:/@]*):[^\s@/]*@/g, "$1:[MASKED]@");
}
