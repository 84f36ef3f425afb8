// Which images a job may use and how they are pulled, as GitLab Runner's docker executor decides
// (executors/docker/docker.go verifyAllowedImage / expandImageName, internal/pull's pull policy
// resolution, common/consts.go IncompatiblePullPolicy). Pure: the executor prints what these
// return and fails the job with runner_configuration_error.

export type PullPolicy = "always" | "never" | "if-not-present";

/**
 * doublestar.Match (GitLab Runner's matcher for allowed_images and friends): `*` any run of
 * characters but `/`, `**` any run including `/`, `?` one character but `/`, `[…]` a class,
 * `{a,b}` alternatives. The whole name must match.
 */
export function globMatch(pattern: string, name: string): boolean {
  return globRegExp(pattern).test(name);
}

function globRegExp(pattern: string): RegExp {
  let re = "";
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        i++;
        // `**/` also matches nothing at all, as doublestar's does.
        if (pattern[i + 1] === "/") {
          i++;
          re += "(?:.*/)?";
        } else re += ".*";
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        let body = pattern.slice(i + 1, end);
        if (body.startsWith("!") || body.startsWith("^")) body = `^${body.slice(1)}`;
        re += `[${body.replaceAll("\\", "\\\\")}]`;
        i = end;
      }
    } else if (c === "{") {
      depth++;
      re += "(?:";
    } else if (c === "}" && depth > 0) {
      depth--;
      re += ")";
    } else if (c === "," && depth > 0) re += "|";
    else if (c === "\\" && i + 1 < pattern.length) re += escapeChar(pattern[++i]!);
    else re += escapeChar(c);
  }
  if (depth > 0) return /$^/; // a malformed pattern matches nothing (doublestar: ErrBadPattern)
  return new RegExp(`^${re}$`, "s");
}

function escapeChar(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}

/** `true`, or the lines GitLab Runner prints when `image` is refused (verifyAllowedImage). */
export function verifyAllowedImage(
  image: string,
  optionName: "images" | "services",
  allowed: readonly string[],
  internal: readonly string[],
): true | { lines: string[]; error: string } {
  if (allowed.length === 0) return true; // by default any image may be used
  if (allowed.some((p) => globMatch(p, image))) return true;
  if (internal.includes(image)) return true;
  return {
    lines: [
      "",
      `ERROR: The ${image} is not present on list of allowed ${optionName}`,
      ...allowed.map((a) => `- ${a}`),
      "",
      "Please check runner's configuration: http://doc.gitlab.com/ci/docker/using_docker_images.html#overwrite-image-and-services",
    ],
    error: "invalid image",
  };
}

/** Privileged only for images the runner allows (isInAllowedPrivilegedImages). */
export function privilegedAllowed(image: string, allowed: readonly string[]): boolean {
  return allowed.length === 0 || allowed.some((p) => globMatch(p, image));
}

/**
 * The pull policies to try for one image, in order: the job's (`image:pull_policy`) when it sets
 * any, else the runner's, kept only where `allowed_pull_policies` allows them (empty: the
 * runner's own). None left: GitLab's "invalid pull policy" error.
 */
export function resolvePullPolicies(o: {
  image: string;
  job: readonly string[];
  runner: readonly PullPolicy[];
  allowed: readonly PullPolicy[] | undefined;
}): { policies: PullPolicy[] } | { error: string } {
  const fromJob = o.job.length > 0;
  const wanted = (fromJob ? o.job : o.runner).map((p) => p.toLowerCase());
  const allowed = o.allowed && o.allowed.length > 0 ? o.allowed : o.runner;
  const policies = wanted.filter((p): p is PullPolicy => (allowed as readonly string[]).includes(p));
  if (policies.length > 0) return { policies };
  const source = fromJob ? "GitLab pipeline config" : "Runner config";
  return {
    error: `invalid pull policy for image ${JSON.stringify(o.image)}: pull_policy ([${wanted.join(" ")}]) defined in ${source} is not one of the allowed_pull_policies ([${allowed.join(" ")}])`,
  };
}

/**
 * Service aliases as GitLab Runner derives them from the image name when none is given
 * (`tutum/wordpress:latest` → `tutum-wordpress`, `tutum__wordpress`), plus the given ones,
 * comma or space separated.
 */
export function serviceAliases(name: string, alias: string): string[] {
  const given = alias.split(/[\s,]+/).filter(Boolean);
  const base = imageBaseName(name);
  const derived = [base.replaceAll("/", "-"), base.replaceAll("/", "__")];
  return [...new Set([...derived, ...given])].filter((a) => /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(a));
}

/** The name without tag or digest (`registry:5000/a/b:1` → `registry:5000/a/b`). */
export function imageBaseName(name: string): string {
  const noDigest = name.split("@")[0]!;
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}
