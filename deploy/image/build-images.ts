// `just image`: runmesh's two images, built offline on the local engine (issue 13; no registry
// here): runmesh:local (the compiled binaries from dist/ on the debootstrap base, Dockerfile) and
// runmesh-nats:local (Debian's nats-server, nats.Dockerfile). Each build gets a small staged
// context (hard links) rather than the repository, whose node_modules and dist/ weigh ~1 GB.
//
//   node_modules/.bin/bun scripts/build.ts && node_modules/.bin/bun deploy/image/build-images.ts
//   DOCKER_HOST=unix:///run/other.sock node_modules/.bin/bun deploy/image/build-images.ts
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { BASE_RECIPE, baseRootfsPath, ensureBaseRootfs, imageStateDir } from "./base-rootfs.ts";

const ROOT = resolve(import.meta.dir, "../..");
const HERE = import.meta.dir;
/** The all-in-one (management verbs, `run`) and one binary per tier. */
export const IMAGE_BINARIES = [
  "runmesh",
  "runmesh-poller",
  "runmesh-scheduler",
  "runmesh-worker",
  "runmesh-cache-signer",
  "runmesh-autoscaler",
];

export interface BuildImagesOptions {
  /** Runs the docker CLI against the engine to build on; returns stdout, throws on failure. */
  docker(args: string[]): string;
  stateDir?: string;
  /** Binaries from dist/ to put in the image (default IMAGE_BINARIES). */
  binaries?: string[];
  tag?: string;
  natsTag?: string;
}

export interface BuiltImages {
  base: string;
  runmesh: string;
  nats: string;
}

export async function buildImages(o: BuildImagesOptions): Promise<BuiltImages> {
  const stateDir = o.stateDir ?? imageStateDir();
  const rootfs = await ensureBaseRootfs(stateDir);
  // Tagged with the recipe's hash: a changed recipe is a new base, never a stale one.
  const base = `runmesh/base:${basename(baseRootfsPath(stateDir), ".tar").replace(/^debian-/, "")}`;
  if (!imageExists(o, base))
    o.docker([
      "import",
      "--change",
      "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "--change",
      'CMD ["/bin/bash"]',
      rootfs,
      base,
    ]);
  const runmesh = o.tag ?? "runmesh:local";
  const nats = o.natsTag ?? "runmesh-nats:local";
  const missing = (o.binaries ?? IMAGE_BINARIES).filter((b) => !existsSync(join(ROOT, "dist", b)));
  if (missing.length)
    throw new Error(`dist/ lacks ${missing.join(", ")}: run \`just build\` (scripts/build.ts) first`);
  mkdirSync(join(ROOT, ".tmp"), { recursive: true });
  const staging = mkdtempSync(join(ROOT, ".tmp", "image-context-"));
  try {
    const ctx = join(staging, "runmesh");
    mkdirSync(join(ctx, "bin"), { recursive: true });
    for (const b of o.binaries ?? IMAGE_BINARIES) stage(join(ROOT, "dist", b), join(ctx, "bin", b));
    for (const s of ["runmesh-entrypoint", "runmesh-health"]) stage(join(HERE, s), join(ctx, "bin", s));
    build(o, ctx, join(HERE, "Dockerfile"), base, runmesh);

    const natsCtx = join(staging, "nats");
    mkdirSync(join(natsCtx, "bin"), { recursive: true });
    copyFileSync(debianNatsServer(), join(natsCtx, "bin", "nats-server"));
    stage(join(HERE, "nats-health"), join(natsCtx, "bin", "nats-health"));
    build(o, natsCtx, join(HERE, "nats.Dockerfile"), base, nats);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return { base, runmesh, nats };
}

function imageExists(o: BuildImagesOptions, tag: string): boolean {
  try {
    o.docker(["image", "inspect", "--format", "{{.Id}}", tag]);
    return true;
  } catch {
    return false;
  }
}

function stage(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

function build(o: BuildImagesOptions, ctx: string, dockerfile: string, base: string, tag: string): void {
  copyFileSync(dockerfile, join(ctx, "Dockerfile"));
  o.docker(["build", "--quiet", "--build-arg", `BASE=${base}`, "-t", tag, ctx]);
}

/** nats-server as Debian's package installed it (scripts/setup.sh installs the package). */
function debianNatsServer(): string {
  const r = spawnSync("dpkg", ["-L", "nats-server"], { encoding: "utf8" });
  const path = r.status === 0 ? r.stdout.split("\n").find((l) => /\/s?bin\/nats-server$/.test(l)) : undefined;
  if (!path || !existsSync(path))
    throw new Error("Debian's nats-server package is not installed: run scripts/setup.sh");
  return path;
}

if (import.meta.main) {
  const host = process.env.DOCKER_HOST;
  const docker = (args: string[]) => {
    const r = spawnSync("docker", args, {
      encoding: "utf8",
      env: { ...process.env, DOCKER_BUILDKIT: "0" },
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.status !== 0) throw new Error(`docker ${args.join(" ")}: exit ${r.status}: ${r.stderr}`);
    return r.stdout;
  };
  const built = await buildImages({ docker });
  console.log(
    `built ${built.runmesh} and ${built.nats} on ${built.base} (debootstrap ${BASE_RECIPE.suite} ${BASE_RECIPE.variant})${host ? ` at ${host}` : ""}`,
  );
}
