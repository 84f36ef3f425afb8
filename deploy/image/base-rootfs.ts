// The base of runmesh's images (issue 13: no registry here, so no `FROM debian`): a Debian
// bookworm minbase root filesystem from debootstrap with git and ca-certificates (a job's shell
// needs bash and git), tarred once per machine under a state dir and imported into the engine.
// test-infra.md §2 measures ~40 s for debootstrap and ~3 s for the import, so the tarball is
// cached, named by a hash of its recipe. Same recipe and cache as tests/infra/docker-images.ts,
// so the suite and `just image` share one tarball.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const BASE_RECIPE = {
  suite: "bookworm",
  variant: "minbase",
  include: ["git", "ca-certificates"],
  mirror: "http://deb.debian.org/debian",
  cleanup: ["var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"],
} as const;

/** $RUNMESH_STATE_DIR/images, else the repository's .tmp/images. */
export function imageStateDir(env: Record<string, string | undefined> = process.env): string {
  return env.RUNMESH_STATE_DIR
    ? join(env.RUNMESH_STATE_DIR, "images")
    : resolve(import.meta.dir, "../../.tmp/images");
}

export function baseRootfsPath(stateDir = imageStateDir()): string {
  const hash = createHash("sha256").update(JSON.stringify(BASE_RECIPE)).digest("hex").slice(0, 16);
  return join(stateDir, `debian-${BASE_RECIPE.suite}-${hash}.tar`);
}

/** The cached rootfs tarball, built with debootstrap (root, network to the mirror) when absent. */
export async function ensureBaseRootfs(stateDir = imageStateDir()): Promise<string> {
  const target = baseRootfsPath(stateDir);
  if (existsSync(target)) return target;
  await mkdir(stateDir, { recursive: true });
  const dir = await mkdtemp(join(tmpdir(), "runmesh-debootstrap-"));
  try {
    const rootfs = join(dir, "rootfs");
    const r = spawnSync(
      "debootstrap",
      [
        `--variant=${BASE_RECIPE.variant}`,
        `--include=${BASE_RECIPE.include.join(",")}`,
        BASE_RECIPE.suite,
        rootfs,
        BASE_RECIPE.mirror,
      ],
      { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
    );
    if (r.status !== 0)
      throw new Error(`debootstrap ${BASE_RECIPE.suite} failed (exit ${r.status}): ${r.stderr.slice(-2000)}`);
    for (const p of BASE_RECIPE.cleanup) await rm(join(rootfs, p), { recursive: true, force: true });
    const tmp = `${target}.${process.pid}.part`;
    const t = spawnSync("tar", ["-C", rootfs, "--numeric-owner", "-cf", tmp, "."], { encoding: "utf8" });
    if (t.status !== 0) throw new Error(`tar of the base rootfs failed: ${t.stderr}`);
    // Atomic: a concurrent builder's half-written file never looks complete.
    await rename(tmp, target);
    return target;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
