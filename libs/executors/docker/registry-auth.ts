// Which credentials a pull sends, as GitLab Runner's docker executor resolves them (helpers/docker
// auth.go): for the image's registry, the first source with an entry wins — the job's
// DOCKER_AUTH_CONFIG variable (which includes the runner's `environment`), then the worker's
// ~/.docker/config.json, then the registry credentials GitLab sends with the job. Pure, apart
// from reading config.json in the caller. Credential helpers (credsStore) are not run.

export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
  /** Where the credentials came from, for GitLab's "Authenticating with credentials from …". */
  source: string;
}

const HUB = "docker.io";

/** The registry an image is pulled from: its first component when that names a host. */
export function registryOf(image: string): string {
  const first = image.split("/")[0]!;
  if (image.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost"))
    return first;
  return HUB;
}

/** `https://index.docker.io/v1/`, `registry:5000`, `http://h/x` → the host as registryOf names it. */
function normalize(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//, "").split("/")[0]!;
  return ["index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"].includes(host) ? HUB : host;
}

/** Credentials for `registry` in a Docker config document (`{"auths": {...}}`), if any. */
export function authFromDockerConfig(
  text: string,
  registry: string,
): { username: string; password: string } | undefined {
  let doc: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  for (const [key, entry] of Object.entries(doc?.auths ?? {})) {
    if (normalize(key) !== registry) continue;
    if (entry.username !== undefined && entry.password !== undefined)
      return { username: entry.username, password: entry.password };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  }
  return undefined;
}

export function resolveRegistryAuth(
  image: string,
  sources: {
    /** The job's DOCKER_AUTH_CONFIG variable. */
    dockerAuthConfig?: string;
    /** The worker's ~/.docker/config.json: its path and text. */
    homeConfig?: { path: string; text: string };
    credentials?: readonly { type: string; url: string; username: string; password: string }[];
  },
): RegistryAuth | undefined {
  const registry = registryOf(image);
  const found = (c: { username: string; password: string } | undefined, source: string) =>
    c ? { ...c, serveraddress: registry, source } : undefined;
  return (
    (sources.dockerAuthConfig
      ? found(authFromDockerConfig(sources.dockerAuthConfig, registry), "$DOCKER_AUTH_CONFIG")
      : undefined) ??
    (sources.homeConfig
      ? found(authFromDockerConfig(sources.homeConfig.text, registry), sources.homeConfig.path)
      : undefined) ??
    found(
      sources.credentials?.find((c) => c.type === "registry" && normalize(c.url) === registry),
      "job payload (GitLab Registry)",
    )
  );
}
