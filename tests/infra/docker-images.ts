// Job images for the docker executor's tests, built without any registry (test-infra.md §2):
// busybox from Debian's busybox-static (half a second, every time), and a Debian bookworm
// minbase with bash and git from debootstrap (~40 s), whose root filesystem is cached under
// .tmp/images/ keyed by a hash of its recipe, so the suite builds it once per machine.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Dockerd } from "./dockerd.ts";

export const BUSYBOX_IMAGE = "local/busybox:latest";
export const DEBIAN_IMAGE = "local/debian-git:bookworm";

const PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const CACHE_DIR = resolve(import.meta.dir, "../../.tmp/images");

/** Imports a busybox image (sh, wget, httpd, nc…) into `d` as `tag`. */
export async function importBusybox(d: Dockerd, tag = BUSYBOX_IMAGE): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "runmesh-busybox-"));
  try {
    const rootfs = join(dir, "rootfs");
    for (const sub of ["bin", "etc", "tmp", "root", "usr/bin", "sbin"])
      await mkdir(join(rootfs, sub), { recursive: true });
    const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((p) => existsSync(p));
    if (!busybox) throw new Error("busybox-static is not installed: run scripts/setup.sh");
    run("cp", [busybox, join(rootfs, "bin/busybox")]);
    const applets = run(busybox, ["--list"]).split("\n").filter(Boolean);
    for (const a of applets)
      if (a !== "busybox") await symlink("busybox", join(rootfs, "bin", a)).catch(() => {});
    await writeFile(
      join(rootfs, "etc/passwd"),
      "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
    );
    await writeFile(join(rootfs, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
    const tar = join(dir, "rootfs.tar");
    run("tar", ["-C", rootfs, "-cf", tar, "."]);
    importTar(d, tar, tag);
    return tag;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Debian's recipe; its hash names the cached root filesystem. */
export const DEBIAN_RECIPE = {
  suite: "bookworm",
  variant: "minbase",
  include: ["git", "ca-certificates"],
  mirror: "http://deb.debian.org/debian",
  cleanup: ["var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"],
} as const;

export function debianRootfsCache(): string {
  const hash = createHash("sha256").update(JSON.stringify(DEBIAN_RECIPE)).digest("hex").slice(0, 16);
  return join(CACHE_DIR, `debian-${DEBIAN_RECIPE.suite}-${hash}.tar`);
}

/** Imports the Debian image (bash, git) into `d` as `tag`, building its rootfs once per machine. */
export async function importDebian(d: Dockerd, tag = DEBIAN_IMAGE): Promise<string> {
  const cached = debianRootfsCache();
  if (!existsSync(cached)) await buildDebianRootfs(cached);
  importTar(d, cached, tag);
  return tag;
}

async function buildDebianRootfs(target: string): Promise<void> {
  await mkdir(CACHE_DIR, { recursive: true });
  const dir = await mkdtemp(join(tmpdir(), "runmesh-debootstrap-"));
  try {
    const rootfs = join(dir, "rootfs");
    const r = spawnSync(
      "debootstrap",
      [
        `--variant=${DEBIAN_RECIPE.variant}`,
        `--include=${DEBIAN_RECIPE.include.join(",")}`,
        DEBIAN_RECIPE.suite,
        rootfs,
        DEBIAN_RECIPE.mirror,
      ],
      { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
    );
    if (r.status !== 0) throw new Error(`debootstrap failed (exit ${r.status}): ${r.stderr.slice(-2000)}`);
    for (const p of DEBIAN_RECIPE.cleanup) await rm(join(rootfs, p), { recursive: true, force: true });
    const tmp = `${target}.${process.pid}.part`;
    run("tar", ["-C", rootfs, "--numeric-owner", "-cf", tmp, "."]);
    // Atomic: a concurrent builder's half-written file never looks complete.
    await rename(tmp, target);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function importTar(d: Dockerd, tar: string, tag: string): void {
  d.cli(["import", "--change", `ENV ${PATH_ENV}`, "--change", 'CMD ["/bin/sh"]', tar, tag]);
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}
