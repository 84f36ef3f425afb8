// Where `[runners.autoscaler] plugin = "…"` points, as GitLab Runner finds it (seeds/000 "plugin
// formats", autoscaling.md §1.2.1): an OCI reference `[registry/][repository/]name[:constraint]`
// (defaults registry.gitlab.com, gitlab-org/fleeting/plugins, latest) installed under
// FLEETING_PLUGIN_PATH or ~/.config/fleeting/plugins as `<registry>/<repository>/<name>/<version>/plugin`,
// the newest installed version matching the constraint; else a path; else `fleeting-plugin-<name>`
// on PATH (a name already spelled `fleeting-plugin-…` as is). Parsing and matching are pure;
// `resolvePlugin` only reads the disk.
import { accessSync, constants, readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, isAbsolute, join } from "node:path";

export const DEFAULT_REGISTRY = "registry.gitlab.com";
export const DEFAULT_REPOSITORY = "gitlab-org/fleeting/plugins";

export interface PluginReference {
  registry: string;
  repository: string;
  name: string;
  constraint: Constraint;
}

/** `latest`, `MAJOR`, `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`. */
export type Constraint = { kind: "latest" } | { kind: "prefix"; parts: number[]; text: string };

export function parseConstraint(text: string): Constraint {
  if (text === "latest") return { kind: "latest" };
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(text);
  if (!m)
    throw new Error(
      `plugin version constraint: expected "latest", "MAJOR", "MAJOR.MINOR" or "MAJOR.MINOR.PATCH", got "${text}"`,
    );
  return {
    kind: "prefix",
    parts: m
      .slice(1)
      .filter((x) => x !== undefined)
      .map(Number),
    text,
  };
}

/** A registry is the first component when it has a dot or a port, or is localhost (docker's rule). */
function isRegistry(component: string): boolean {
  return component.includes(".") || component.includes(":") || component === "localhost";
}

export function parsePluginReference(ref: string): PluginReference {
  const text = ref.trim();
  if (!text || /\s/.test(text))
    throw new Error(
      `plugin: expected a reference like "aws:1.2" or "registry/repo/name:latest", got "${ref}"`,
    );
  const parts = text.split("/");
  const last = parts.pop()!;
  const colon = last.indexOf(":");
  const name = colon < 0 ? last : last.slice(0, colon);
  const constraint = parseConstraint(colon < 0 ? "latest" : last.slice(colon + 1));
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name))
    throw new Error(`plugin: "${name}" is not a valid plugin name in "${ref}"`);
  let registry = DEFAULT_REGISTRY;
  if (parts.length && isRegistry(parts[0]!)) registry = parts.shift()!;
  const repository = parts.length ? parts.join("/") : DEFAULT_REPOSITORY;
  return { registry, repository, name, constraint };
}

export interface Version {
  major: number;
  minor: number;
  patch: number;
  text: string;
}

/** An installed version directory's name (`1.2.3`, `v1.2.3`); prereleases and others are ignored. */
export function parseVersion(text: string): Version | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(text);
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), text } : undefined;
}

export function matches(c: Constraint, v: Version): boolean {
  if (c.kind === "latest") return true;
  const have = [v.major, v.minor, v.patch];
  return c.parts.every((p, i) => have[i] === p);
}

/** The newest of `versions` (directory names) matching `c`, or undefined. */
export function newestMatching(c: Constraint, versions: readonly string[]): string | undefined {
  return versions
    .map(parseVersion)
    .filter((v): v is Version => v !== undefined && matches(c, v))
    .sort((a, b) => b.major - a.major || b.minor - a.minor || b.patch - a.patch)[0]?.text;
}

/** FLEETING_PLUGIN_PATH, else ~/.config/fleeting/plugins (Unix). */
export function pluginInstallRoot(env: Record<string, string | undefined> = process.env): string {
  return env.FLEETING_PLUGIN_PATH || join(env.HOME || homedir(), ".config", "fleeting", "plugins");
}

export function installDir(root: string, r: PluginReference, version: string): string {
  return join(root, r.registry, r.repository, r.name, version);
}

export interface ResolvedPlugin {
  path: string;
  how: "installed" | "path" | "PATH";
  version?: string;
}

/** The executable `plugin` names, or an error saying everywhere it looked. */
export function resolvePlugin(
  plugin: string,
  env: Record<string, string | undefined> = process.env,
): ResolvedPlugin {
  const looked: string[] = [];
  if (plugin.includes("/") && (isAbsolute(plugin) || plugin.startsWith("."))) {
    if (executable(plugin)) return { path: plugin, how: "path" };
    throw new Error(`plugin "${plugin}": not an executable file`);
  }
  let ref: PluginReference | undefined;
  try {
    ref = parsePluginReference(plugin);
  } catch (err) {
    looked.push((err as Error).message);
  }
  if (ref) {
    const root = pluginInstallRoot(env);
    const base = join(root, ref.registry, ref.repository, ref.name);
    const version = newestMatching(ref.constraint, listDirs(base));
    if (version) {
      const path = join(base, version, "plugin");
      if (executable(path)) return { path, how: "installed", version };
      looked.push(`${path} (not executable)`);
    } else
      looked.push(
        `${base}/<version matching ${ref.constraint.kind === "latest" ? "latest" : ref.constraint.text}>/plugin`,
      );
  }
  const bare = plugin.split("/").pop()!.split(":")[0]!;
  // Only fleeting-plugin-* names: `aws` on PATH is the AWS CLI, not a plugin.
  const names = bare.startsWith("fleeting-plugin-") ? [bare] : [`fleeting-plugin-${bare}`];
  for (const dir of (env.PATH ?? "").split(delimiter).filter(Boolean))
    for (const n of names) {
      const path = join(dir, n);
      if (executable(path)) return { path, how: "PATH" };
    }
  looked.push(`${names.join(" or ")} on PATH`);
  throw new Error(
    `plugin "${plugin}": not found; looked for ${looked.join("; ")} (run "runmesh fleeting install", or put the binary on PATH)`,
  );
}

function listDirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
