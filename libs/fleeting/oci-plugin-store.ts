// Fleeting plugins as OCI artifacts: `fleeting install` pulls the newest version matching a
// plugin reference's constraint from its registry into the install root
// (`<root>/<registry>/<repository>/<name>/<version>/plugin`, plugin-discovery.ts), `publish`
// pushes one (for plugin authors and tests), `login` keeps registry credentials. GitLab's
// artifact carries `dist/<os>/<arch>/plugin` (autoscaling.md §1.2.1); its exact media types are not
// known here [U], so runmesh's own are below and any layer titled `dist/<os>/<arch>/plugin` is taken.
// Registry API v2 over plain HTTP for loopback registries, HTTPS otherwise; Basic credentials,
// and the Bearer token dance when the registry asks for it.
import { createHash } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import {
  installDir,
  newestMatching,
  type PluginReference,
  parsePluginReference,
} from "./plugin-discovery.ts";

export const MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";
export const CONFIG_TYPE = "application/vnd.runmesh.fleeting.plugin.config.v1+json";
export const LAYER_TYPE = "application/vnd.runmesh.fleeting.plugin.binary";
const TITLE = "org.opencontainers.image.title";

export interface Credentials {
  username: string;
  password: string;
}

/** Where `fleeting login` keeps credentials: docker's config.json shape, mode 0600. */
export function authFile(env: Record<string, string | undefined> = process.env): string {
  return env.FLEETING_AUTH_FILE || join(env.HOME || homedir(), ".config", "fleeting", "auth.json");
}

export async function saveLogin(registry: string, c: Credentials, file = authFile()): Promise<void> {
  const current = await readAuths(file);
  current[registry] = { auth: Buffer.from(`${c.username}:${c.password}`).toString("base64") };
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(`${file}.tmp`, JSON.stringify({ auths: current }, null, 2), { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

async function readAuths(file: string): Promise<Record<string, { auth: string }>> {
  try {
    return (
      (JSON.parse(await readFile(file, "utf8")) as { auths?: Record<string, { auth: string }> }).auths ?? {}
    );
  } catch {
    return {};
  }
}

export async function loginFor(registry: string, file = authFile()): Promise<Credentials | undefined> {
  const a = (await readAuths(file))[registry];
  if (!a) return undefined;
  const text = Buffer.from(a.auth, "base64").toString("utf8");
  const i = text.indexOf(":");
  return { username: text.slice(0, i), password: text.slice(i + 1) };
}

/** A Registry API v2 client for one registry. */
export class RegistryClient {
  private token: string | undefined;
  private readonly base: string;

  constructor(
    readonly registry: string,
    private readonly creds?: Credentials,
  ) {
    const loopback = /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(registry);
    this.base = `${loopback ? "http" : "https"}://${registry}/v2`;
  }

  private authHeader(): Record<string, string> {
    if (this.token) return { authorization: `Bearer ${this.token}` };
    if (this.creds)
      return {
        authorization: `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString("base64")}`,
      };
    return {};
  }

  async request(path: string, init: RequestInit = {}, ok = [200]): Promise<Response> {
    const go = () =>
      fetch(`${this.base}${path}`, {
        ...init,
        headers: { ...this.authHeader(), ...(init.headers as object) },
      });
    let r = await go();
    const challenge = r.headers.get("www-authenticate") ?? "";
    if (r.status === 401 && /^Bearer /i.test(challenge) && !this.token) {
      await this.fetchToken(challenge);
      r = await go();
    }
    if (!ok.includes(r.status))
      throw new Error(
        `registry ${this.registry}: ${init.method ?? "GET"} /v2${path}: ${r.status} ${(await r.text()).slice(0, 300)}${r.status === 401 ? ' (run "runmesh fleeting login")' : ""}`,
      );
    return r;
  }

  private async fetchToken(challenge: string): Promise<void> {
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (!params.realm) throw new Error(`registry ${this.registry}: a Bearer challenge without realm`);
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set("service", params.service);
    if (params.scope) url.searchParams.set("scope", params.scope);
    const headers: Record<string, string> = this.creds
      ? {
          authorization: `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString("base64")}`,
        }
      : {};
    const r = await fetch(url, { headers });
    if (!r.ok) throw new Error(`registry ${this.registry}: token from ${url.origin}: ${r.status}`);
    const body = (await r.json()) as { token?: string; access_token?: string };
    this.token = body.token ?? body.access_token;
  }

  async tags(repository: string): Promise<string[]> {
    const r = await this.request(`/${repository}/tags/list`, {}, [200, 404]);
    if (r.status === 404) return [];
    return ((await r.json()) as { tags?: string[] | null }).tags ?? [];
  }

  async pushBlob(repository: string, data: Uint8Array): Promise<string> {
    const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
    const head = await this.request(`/${repository}/blobs/${digest}`, { method: "HEAD" }, [200, 404]);
    if (head.status === 200) return digest;
    const start = await this.request(`/${repository}/blobs/uploads/`, { method: "POST" }, [202]);
    const location = new URL(start.headers.get("location")!, `${this.base}/`);
    location.searchParams.set("digest", digest);
    const path = location.pathname.replace(/^\/v2/, "") + location.search;
    await this.request(
      path,
      { method: "PUT", body: data, headers: { "content-type": "application/octet-stream" } },
      [201],
    );
    return digest;
  }
}

/** Pushes `files` (`linux/amd64` → the binary) as `<repository>/<name>:<version>`. */
export async function publishPlugin(
  registry: string,
  repositoryAndName: string,
  version: string,
  files: Record<string, Uint8Array>,
  creds?: Credentials,
): Promise<void> {
  const c = new RegistryClient(registry, creds);
  const config = new TextEncoder().encode("{}");
  const configDigest = await c.pushBlob(repositoryAndName, config);
  const layers = [];
  for (const [platform, data] of Object.entries(files)) {
    const ext = platform.startsWith("windows/") ? ".exe" : "";
    layers.push({
      mediaType: LAYER_TYPE,
      digest: await c.pushBlob(repositoryAndName, data),
      size: data.length,
      annotations: { [TITLE]: `dist/${platform}/plugin${ext}` },
    });
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    config: { mediaType: CONFIG_TYPE, digest: configDigest, size: config.length },
    layers,
  };
  await c.request(
    `/${repositoryAndName}/manifests/${version}`,
    { method: "PUT", body: JSON.stringify(manifest), headers: { "content-type": MANIFEST_TYPE } },
    [201],
  );
}

/** Go's GOOS/GOARCH for this machine, as the artifact's paths name platforms. */
export function goPlatform(): string {
  const arch =
    { x64: "amd64", arm64: "arm64", arm: "armv7", ia32: "386" }[process.arch as string] ?? process.arch;
  return `${process.platform === "win32" ? "windows" : process.platform}/${arch}`;
}

export interface Installed {
  reference: PluginReference;
  version: string;
  path: string;
  /** False when that version was installed already (nothing fetched). */
  fetched: boolean;
}

/**
 * Installs the newest remote version of `plugin` matching its constraint, unless `upgrade` is false
 * and a matching version is installed already.
 */
export async function installPlugin(
  plugin: string,
  o: { root: string; upgrade?: boolean; authFile?: string; platform?: string },
): Promise<Installed> {
  const ref = parsePluginReference(plugin);
  const repo = `${ref.repository}/${ref.name}`;
  const c = new RegistryClient(ref.registry, await loginFor(ref.registry, o.authFile));
  const tags = await c.tags(repo);
  const version = newestMatching(ref.constraint, tags);
  if (!version)
    throw new Error(
      `plugin "${plugin}": no version in ${ref.registry}/${repo} matches "${ref.constraint.kind === "latest" ? "latest" : ref.constraint.text}" (tags: ${[...tags].sort().join(", ") || "none"})`,
    );
  const dir = installDir(o.root, ref, version);
  const path = join(dir, "plugin");
  if (
    !o.upgrade &&
    (await readFile(path).then(
      () => true,
      () => false,
    ))
  )
    return { reference: ref, version, path, fetched: false };
  const manifest = (await (
    await c.request(`/${repo}/manifests/${version}`, { headers: { accept: MANIFEST_TYPE } })
  ).json()) as { layers?: { digest: string; annotations?: Record<string, string> }[] };
  const platform = o.platform ?? goPlatform();
  const layer = manifest.layers?.find((l) => l.annotations?.[TITLE]?.startsWith(`dist/${platform}/plugin`));
  if (!layer) throw new Error(`plugin "${plugin}" ${version}: the artifact has no dist/${platform}/plugin`);
  const data = new Uint8Array(await (await c.request(`/${repo}/blobs/${layer.digest}`)).arrayBuffer());
  const got = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  if (got !== layer.digest)
    throw new Error(`plugin "${plugin}" ${version}: blob digest ${got}, expected ${layer.digest}`);
  await mkdir(dir, { recursive: true });
  await writeFile(`${path}.tmp`, data);
  await chmod(`${path}.tmp`, 0o755);
  await rename(`${path}.tmp`, path);
  return { reference: ref, version, path, fetched: true };
}
