// Which files an artifacts (or cache) entry takes from the project dir, as GitLab Runner's
// commands/helpers/file_archiver.go decides: `paths` are globs (doublestar) relative to the
// project dir, a matched directory brings everything under it, `untracked` adds what
// `git ls-files -o` lists (ignored files included, as GitLab documents), and `exclude` globs
// drop matches. Nothing outside the project dir is ever read: `../`, absolute paths and symlinks
// that resolve outside are refused with a warning naming the path.
import { lstatSync, readdirSync, realpathSync } from "node:fs";
import { isAbsolute, join, normalize, sep } from "node:path";

export interface FileSelection {
  paths: readonly string[];
  exclude: readonly string[];
  untracked: boolean;
}

export interface SelectedFiles {
  /** Relative to the project dir, with `/`, sorted; directories end without a slash. */
  files: string[];
  /** Lines for the job log, in GitLab Runner's words. */
  lines: string[];
  warnings: string[];
}

const GLOB_CHARS = /[*?[{]/;

/** A relative, normalised path inside the project dir, or undefined when it would leave it. */
export function insideProject(path: string): string | undefined {
  if (isAbsolute(path)) return undefined;
  const norm = normalize(path).split(sep).join("/").replace(/\/+$/, "");
  if (norm === ".." || norm.startsWith("../")) return undefined;
  return norm === "" ? "." : norm;
}

/** Whether `rel` is excluded by one of the globs (a match on the path or on one of its parents). */
export function excludedBy(rel: string, exclude: readonly string[]): string | undefined {
  const parts = rel.split("/");
  for (const pattern of exclude) {
    const glob = new Bun.Glob(pattern.replace(/\/+$/, ""));
    for (let i = parts.length; i > 0; i--) if (glob.match(parts.slice(0, i).join("/"))) return pattern;
  }
  return undefined;
}

function walk(projectDir: string, rel: string, out: Set<string>, warnings: string[]): void {
  const abs = join(projectDir, rel);
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(abs);
  } catch {
    return;
  }
  if (st.isSymbolicLink()) {
    let target: string;
    try {
      target = realpathSync(abs);
    } catch {
      target = "";
    }
    const root = realpathSync(projectDir);
    if (target === "" || (target !== root && !target.startsWith(`${root}/`))) {
      warnings.push(`${rel}: symlink points outside the project directory (${projectDir}); not archived`);
      return;
    }
    out.add(rel);
    return;
  }
  out.add(rel);
  if (!st.isDirectory()) return;
  for (const name of readdirSync(abs).sort())
    walk(projectDir, rel === "." ? name : `${rel}/${name}`, out, warnings);
}

/** `git ls-files -o` in `projectDir` (ignored files included); [] when it is not a work tree. */
export async function untrackedFiles(projectDir: string): Promise<string[]> {
  const proc = Bun.spawn(["git", "ls-files", "-o", "-z"], {
    cwd: projectDir,
    stdout: "pipe",
    stderr: "pipe",
  });
  const text = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) return [];
  return text.split("\0").filter((p) => p !== "");
}

/**
 * The files of one entry; `projectDir` must exist. `listUntracked` answers `untracked` (default:
 * git in `projectDir`; a copy of a remote project dir asks the remote side, see
 * libs/executors/workspace-transfer.ts).
 */
export async function selectFiles(
  projectDir: string,
  sel: FileSelection,
  listUntracked: (dir: string) => Promise<string[]> = untrackedFiles,
): Promise<SelectedFiles> {
  const found = new Set<string>();
  const lines: string[] = [];
  const warnings: string[] = [];
  for (const pattern of sel.paths) {
    const rel = insideProject(pattern);
    if (rel === undefined) {
      warnings.push(
        `${pattern}: artifact path is not a subpath of project directory: ${projectDir}; it is not archived`,
      );
      continue;
    }
    const before = found.size;
    if (GLOB_CHARS.test(rel)) {
      for (const m of new Bun.Glob(rel).scanSync({ cwd: projectDir, onlyFiles: false, dot: true }))
        walk(projectDir, m.split(sep).join("/"), found, warnings);
    } else walk(projectDir, rel, found, warnings);
    const n = found.size - before;
    if (n === 0)
      warnings.push(
        `${pattern}: no matching files. Ensure that the artifact path is relative to the working directory (${projectDir})`,
      );
    else lines.push(`${pattern}: found ${n} matching artifact files and directories`);
  }
  if (sel.untracked) {
    const before = found.size;
    for (const f of await listUntracked(projectDir)) walk(projectDir, f.replace(/\/$/, ""), found, warnings);
    lines.push(`untracked: found ${found.size - before} files`);
  }
  found.delete(".");
  let excluded = 0;
  const files = [...found].filter((f) => {
    if (sel.exclude.length > 0 && excludedBy(f, sel.exclude) !== undefined) {
      excluded += 1;
      return false;
    }
    return true;
  });
  if (excluded > 0) lines.push(`${excluded} files and directories excluded by ${sel.exclude.join(", ")}`);
  files.sort();
  return { files, lines, warnings };
}
