// How the worker reaches a job's project dir for the cache and artifact stages, wherever the
// executor keeps it. GitLab Runner runs its own helper binary next to the project dir (on the
// shell host, in the docker helper container, on the ssh host, through the custom driver);
// runmesh runs those stages in the worker instead and moves files across this seam: export what
// an entry may select into a worker-local staging dir, select and archive there with
// libs/artifacts (the one place globs, `untracked`, `exclude` and the symlink refusal live), and
// import an extracted tree back. On the shell executor the project dir is on the worker's host
// and the seam is the identity. Remote executors implement a `RemoteProjectDir` (list, fetch,
// push as tar streams) and get the rest from `remoteWorkspace`.
import { spawn } from "node:child_process";
import { lstatSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { PassThrough, type Readable, type Writable } from "node:stream";
import {
  type FileSelection,
  insideProject,
  selectFiles,
  untrackedFiles,
} from "../artifacts/artifact-files.ts";

/** A worker-local view of the project dir that selection and archiving read. */
export interface ExportedFiles {
  /** Select and archive from here: the project dir itself (shell) or a copy under the staging dir. */
  dir: string;
  /** The project's untracked files (`git ls-files -o`, relative), asked where the project lives. */
  listUntracked(): Promise<string[]>;
}

/** What an executor's prepared job offers the worker's cache and artifact stages. */
export interface WorkspaceTransfer {
  /**
   * Brings every file `sel` can select (at least) under `stagingDir`, symlinks as symlinks with
   * their own targets, and returns where to select from. Selection runs on the worker on the
   * returned dir with the same `sel`, so a symlink that points out of the project dir on the
   * remote side points out of the copy too and is refused as on shell. The shell identity
   * returns the project dir and copies nothing.
   */
  exportPaths(sel: FileSelection, stagingDir: string, signal: AbortSignal): Promise<ExportedFiles>;
  /** Where the worker writes files for the project dir: the project dir itself when local, else `stagingDir`. */
  importDir(stagingDir: string): string;
  /** Puts the tree written under `importDir(stagingDir)` into the project dir (identity: nothing to do). */
  importTree(stagingDir: string, signal: AbortSignal): Promise<void>;
}

/** The identity: the project dir is on the worker's host (the shell executor). */
export function localWorkspace(projectDir: string): WorkspaceTransfer {
  return {
    exportPaths: async () => ({ dir: projectDir, listUntracked: () => untrackedFiles(projectDir) }),
    importDir: () => projectDir,
    importTree: async () => {},
  };
}

/** One entry of a remote listing (`LIST_SCRIPT`). */
export interface RemoteEntry {
  /** Relative to the project dir, `/`-separated, no `./`. */
  path: string;
  type: "file" | "dir" | "symlink" | "other";
  /** The symlink's own target, as written. */
  target?: string;
}

/**
 * What a remote executor provides, every path relative to its project dir (`projectDir` is the
 * absolute one on the executor's side). Streams are tar (GNU or POSIX ustar), never buffered whole.
 */
export interface RemoteProjectDir {
  readonly projectDir: string;
  /** The entries under `roots` (recursively), as LIST_SCRIPT prints them; missing roots are skipped. */
  list(roots: readonly string[], signal: AbortSignal): Promise<RemoteEntry[]>;
  /** `git ls-files -o` in the project dir; [] when it is not a work tree. */
  untracked(signal: AbortSignal): Promise<string[]>;
  /**
   * Writes `roots` (recursively; symlinks as symlinks) under `localDir` at their relative paths,
   * e.g. a tar stream of them through `extractTar`.
   */
  fetch(roots: readonly string[], localDir: string, signal: AbortSignal): Promise<void>;
  /** Extracts a tar stream (member names relative to the project dir) into the project dir. */
  push(tar: Readable, signal: AbortSignal): Promise<void>;
}

/** Lists the entries under its arguments: `<type>\0<symlink target>\0<path>\0` each (GNU find's %y, %l, %p). */
const FIND_SCRIPT = `find "$@" -printf "%y\\0%l\\0%p\\0" 2>/dev/null; true`;

/** The listing as an argv (roots as arguments), run with the project dir as the working directory. */
export function listCommand(roots: readonly string[]): string[] {
  return ["sh", "-c", FIND_SCRIPT, "find", ...rootArgs(roots)];
}

/** The listing as a command line reading NUL-separated roots (`rootArgs`) on stdin. */
export const LIST_SCRIPT = `xargs -0 -r sh -c '${FIND_SCRIPT}' find`;

/** A tar of the NUL-separated roots read on stdin, on stdout (project dir as working directory). */
export const TAR_CREATE_SCRIPT = "tar -cf - --null --no-unquote -T -";

/** Extracts a tar read on stdin into the working directory, owned by whoever runs it. */
export const TAR_EXTRACT_SCRIPT = "tar -xf - --no-same-owner --no-overwrite-dir";

/** Roots as arguments or list lines: `./` first, so a name starting with `-` is no option. */
export function rootArgs(roots: readonly string[]): string[] {
  return roots.map((r) => (r === "." ? "." : `./${r}`));
}

export function parseListing(out: string): RemoteEntry[] {
  const parts = out.split("\0");
  const entries: RemoteEntry[] = [];
  for (let i = 0; i + 2 < parts.length; i += 3) {
    const rel = insideProject(parts[i + 2]!);
    if (rel === undefined || rel === ".") continue;
    const y = parts[i]!;
    const type = y === "f" ? "file" : y === "d" ? "dir" : y === "l" ? "symlink" : "other";
    entries.push({ path: rel, type, target: type === "symlink" ? parts[i + 1] : undefined });
  }
  return entries;
}

/** The part of a pattern before its first glob segment: what must be listed for it. */
export function staticRoot(pattern: string): string | undefined {
  const rel = insideProject(pattern);
  if (rel === undefined) return undefined;
  const segments = rel.split("/");
  const i = segments.findIndex((s) => /[*?[{]/.test(s));
  const kept = i < 0 ? segments : segments.slice(0, i);
  return kept.length === 0 ? "." : kept.join("/");
}

/** The shortest covering set: a path under another is dropped ("." covers all). */
export function coveringRoots(paths: Iterable<string>): string[] {
  const sorted = [...new Set(paths)].sort();
  const out: string[] = [];
  for (const p of sorted) {
    if (out.includes(".")) break;
    if (p === ".") {
      out.length = 0;
      out.push(".");
      continue;
    }
    if (!out.some((r) => p === r || p.startsWith(`${r}/`))) out.push(p);
  }
  return out;
}

/**
 * A remote project dir seen through its `RemoteProjectDir`: list what the entry's patterns can
 * reach, lay that listing out under the staging dir (empty files, the symlinks as they are),
 * select there, fetch only the selected entries' contents over it.
 */
export function remoteWorkspace(remote: RemoteProjectDir): WorkspaceTransfer {
  return {
    async exportPaths(sel, stagingDir, signal) {
      const copy = join(stagingDir, "project");
      mkdirSync(copy, { recursive: true });
      const untracked = sel.untracked ? await remote.untracked(signal) : [];
      const roots = coveringRoots([
        ...sel.paths.map(staticRoot).filter((r): r is string => r !== undefined),
        ...untracked,
      ]);
      const entries = roots.length === 0 ? [] : await remote.list(roots, signal);
      layOut(copy, entries);
      const listUntracked = async () => untracked;
      const selected = await selectFiles(copy, sel, listUntracked);
      const set = new Set(selected.files);
      const fetchRoots = selected.files.filter((f) => !set.has(posix.dirname(f)));
      if (fetchRoots.length > 0) await remote.fetch(fetchRoots, copy, signal);
      return { dir: copy, listUntracked };
    },
    importDir: (stagingDir) => stagingDir,
    async importTree(stagingDir, signal) {
      await remote.push(packTree(stagingDir), signal);
    },
  };
}

/**
 * The listing as placeholders: directories, empty files, symlinks with their own targets. A
 * symlink keeps its target as written, so the archive holds what the remote side has; an
 * absolute target therefore never resolves inside the copy and is refused, even one that points
 * inside the remote project dir (shell keeps that one: a difference of remote executors).
 */
function layOut(copy: string, entries: readonly RemoteEntry[]): void {
  for (const e of entries) {
    const abs = join(copy, e.path);
    if (exists(abs)) continue;
    mkdirSync(dirname(abs), { recursive: true });
    if (e.type === "dir") mkdirSync(abs, { recursive: true });
    else if (e.type === "symlink") symlinkSync(e.target ?? "", abs);
    else if (e.type === "file") writeFileSync(abs, "");
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Extracts a tar stream into `dir` with the worker's GNU tar (streaming; `..` members refused by tar). */
export async function extractTar(tar: Readable, dir: string, signal: AbortSignal): Promise<void> {
  const proc = spawn("tar", ["-xf", "-", "-C", dir, "--no-same-owner", "--no-same-permissions"], {
    stdio: ["pipe", "ignore", "pipe"],
    signal,
  });
  const stderr: Buffer[] = [];
  proc.stderr.on("data", (c: Buffer) => stderr.push(c));
  let sourceError: Error | undefined;
  tar.once("error", (e) => {
    sourceError = e;
    proc.stdin.destroy();
  });
  // EPIPE when tar stops reading at its end-of-archive blocks: its exit status tells.
  proc.stdin.on("error", () => {});
  const code = await new Promise<number>((ok, fail) => {
    proc.on("error", fail);
    proc.on("close", (c) => ok(c ?? -1));
    tar.pipe(proc.stdin);
  });
  // Drain what tar left unread, or the source (an ssh channel) never ends and never closes.
  tar.unpipe(proc.stdin);
  tar.resume();
  if (sourceError) throw new Error(`extracting into ${dir}: ${sourceError.message}`);
  if (code !== 0)
    throw new Error(`extracting into ${dir}: tar exited ${code}: ${Buffer.concat(stderr).toString().trim()}`);
}

/** A tar stream of everything under `dir` (member names relative to it). */
export function packTree(dir: string): Readable {
  const proc = spawn("tar", ["-cf", "-", "-C", dir, "--numeric-owner", "--owner=0", "--group=0", "."], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Read at once: Bun drops a child's output that nobody reads before the next tick, and the
  // consumer may first await a channel (ssh) or a request (docker).
  const out = new PassThrough();
  proc.stdout.pipe(out, { end: false });
  const stderr: Buffer[] = [];
  proc.stderr.on("data", (c: Buffer) => stderr.push(c));
  proc.on("close", (code) => {
    if (code === 0) out.end();
    else
      out.destroy(
        new Error(`packing ${dir}: tar exited ${code}: ${Buffer.concat(stderr).toString().trim()}`),
      );
  });
  return out;
}

/** Pipes `from` into `to`, ending it; rejects when either side fails. */
export function pipeInto(from: Readable, to: Writable): Promise<void> {
  return new Promise((ok, fail) => {
    from.once("error", fail);
    to.once("error", fail);
    to.once("finish", () => ok());
    // A consumer that stops reading before `from` ends (tar exits at its end-of-archive blocks)
    // never finishes; its own exit status says whether that was fine.
    to.once("close", () => ok());
    from.pipe(to);
  });
}

/**
 * What an executor with a workspace transfer advertises: the worker runs the cache and artifact
 * stages for it (GitLab Runner's helper features), whatever the executor.
 */
export const WORKER_TRANSFER_FEATURES = {
  cache: true,
  fallback_cache_keys: true,
  artifacts: true,
  upload_multiple_artifacts: true,
  upload_raw_artifacts: true,
  artifacts_exclude: true,
} as const;
