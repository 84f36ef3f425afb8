// Where a job's sources live, and the concurrency slots that keep two jobs out of one directory.
// GitLab Runner's shared-builds-dir layout (shell, ssh executors) is
// `<builds_dir>/<short token>/<concurrent project id>/<project path>`; it hands out
// CI_CONCURRENT_ID and CI_CONCURRENT_PROJECT_ID in memory, which only works for one process.
// runmesh workers may share one builds_dir, so each slot is a lock file created with O_EXCL.
import { mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";

/** The project's path from its repository URL (`/group/sub/proj.git` ⇒ `group/sub/proj`). */
export function projectSlug(repoUrl: string, projectId: number): string {
  try {
    const url = new URL(repoUrl);
    let slug = decodeURIComponent(url.pathname).replace(/\.git$/, "");
    slug = slug.replace(/\/+/g, "/").replace(/^\/|\/$/g, "");
    if (slug !== "" && !slug.split("/").some((s) => s === ".." || s === ".")) return slug;
  } catch {
    // not a URL: fall through to the project id, as GitLab Runner does
  }
  return `project-${projectId}`;
}

export function sharedProjectDir(
  buildsDir: string,
  shortToken: string,
  concurrentProjectId: number,
  slug: string,
): string {
  return join(buildsDir, shortToken, String(concurrentProjectId), slug);
}

export interface BuildSlot {
  concurrentId: number;
  concurrentProjectId: number;
  /** Frees both slots; safe to call twice. */
  release(): Promise<void>;
}

export interface AcquireBuildSlotOptions {
  buildsDir: string;
  shortToken: string;
  slug: string;
  /** Upper bound on slot numbers tried (a guard against a runaway loop, not a limit). */
  maxSlots?: number;
}

/** Takes the lowest free CI_CONCURRENT_ID and CI_CONCURRENT_PROJECT_ID for this builds dir. */
export async function acquireBuildSlot(o: AcquireBuildSlotOptions): Promise<BuildSlot> {
  const root = join(o.buildsDir, ".runmesh-locks", o.shortToken || "_");
  const concurrent = await acquireLockSlot(join(root, "concurrent"), o.maxSlots);
  let project: HeldLock;
  try {
    project = await acquireLockSlot(join(root, "project", encodeURIComponent(o.slug)), o.maxSlots);
  } catch (error) {
    await concurrent.release();
    throw error;
  }
  return {
    concurrentId: concurrent.slot,
    concurrentProjectId: project.slot,
    release: async () => {
      await Promise.all([concurrent.release(), project.release()]);
    },
  };
}

export interface HeldLock {
  slot: number;
  release(): Promise<void>;
}

interface LockOwner {
  pid: number;
  host: string;
  token: string;
}

/** A lock whose content cannot be read yet is a writer mid-create; after this long it is debris. */
const UNREADABLE_LOCK_STALE_MS = 60_000;

/**
 * The lowest free numbered slot under `dir`, held by an O_EXCL lock file naming this process; a
 * dead owner's lock (same host) is reclaimed. Also used for worker ids sharing one data dir.
 */
export async function acquireLockSlot(dir: string, maxSlots = 10_000): Promise<HeldLock> {
  await mkdir(dir, { recursive: true });
  const owner: LockOwner = { pid: process.pid, host: hostname(), token: crypto.randomUUID() };
  for (let slot = 0; slot < maxSlots; slot++) {
    const path = join(dir, `${slot}.lock`);
    if ((await tryCreate(path, owner)) || ((await reclaimIfStale(path)) && (await tryCreate(path, owner)))) {
      let released = false;
      return {
        slot,
        release: async () => {
          if (released) return;
          released = true;
          // Only remove the lock if it is still ours (a reclaimer may have judged us dead).
          const current = await readOwner(path);
          if (current?.token === owner.token) await unlink(path).catch(() => {});
        },
      };
    }
  }
  throw new Error(
    `no free concurrency slot under ${dir} after ${maxSlots} tries: remove stale *.lock files there if no job is running`,
  );
}

async function tryCreate(path: string, owner: LockOwner): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "wx");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    await handle.writeFile(JSON.stringify(owner));
  } finally {
    await handle.close();
  }
  return true;
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, "utf8")) as Partial<LockOwner>;
    if (
      typeof parsed.pid === "number" &&
      typeof parsed.host === "string" &&
      typeof parsed.token === "string"
    ) {
      return parsed as LockOwner;
    }
  } catch {
    // missing, mid-write or garbage
  }
  return undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** What a lock file says about its owner: free to reclaim only when `dead` or `debris`. */
type LockState =
  | { kind: "missing" }
  | { kind: "live" }
  | { kind: "dead"; token: string }
  | { kind: "debris" };

async function lockState(path: string): Promise<LockState> {
  const owner = await readOwner(path);
  if (owner) {
    // A pid only means something on its own host (builds_dir may be a network share).
    return owner.host === hostname() && !isAlive(owner.pid)
      ? { kind: "dead", token: owner.token }
      : { kind: "live" };
  }
  const info = await stat(path).catch(() => undefined);
  if (!info) return { kind: "missing" };
  return Date.now() - info.mtimeMs > UNREADABLE_LOCK_STALE_MS ? { kind: "debris" } : { kind: "live" };
}

/**
 * Removes a dead owner's lock; true when the caller may try to create it again. The
 * check-then-remove runs under a guard file so two reclaimers cannot both remove it, the second
 * one deleting the lock the first just took. A lock that is gone is never removed "again": by
 * then another acquirer may have created it anew (two jobs would share one project dir).
 */
async function reclaimIfStale(path: string): Promise<boolean> {
  const first = await lockState(path);
  if (first.kind === "missing") return true;
  if (first.kind === "live") return false;
  const guard = `${path}.reclaim`;
  const guardOwner: LockOwner = { pid: process.pid, host: hostname(), token: crypto.randomUUID() };
  if (!(await tryCreate(guard, guardOwner))) {
    const other = await lockState(guard);
    if (other.kind !== "dead" && other.kind !== "debris") return false;
    // The previous reclaimer died: move its guard aside (atomic) and let the next pass retry.
    await rename(guard, `${guard}.${guardOwner.token}`).catch(() => {});
    await unlink(`${guard}.${guardOwner.token}`).catch(() => {});
    return false;
  }
  try {
    // Only a reclaimer removes a dead owner's lock, and reclaimers take turns under the guard:
    // the lock seen here is the one removed.
    const again = await lockState(path);
    if (again.kind === "missing") return true;
    const unchanged =
      again.kind === "dead"
        ? first.kind === "dead" && again.token === first.token
        : again.kind === "debris" && first.kind === "debris";
    if (!unchanged) return false;
    await unlink(path).catch(() => {});
    return true;
  } finally {
    await unlink(guard).catch(() => {});
  }
}
