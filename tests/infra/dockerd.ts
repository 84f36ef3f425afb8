// Starts a private Docker engine (Debian's docker.io dockerd) for tests, as test-infra.md §1 does:
// its own socket, data root, exec root and pid file, no bridge and no iptables, so it never
// touches the host's network or another dockerd. Stopped by the pid it wrote, then the nsfs
// mount it leaves under the exec root is unmounted before the directory goes.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const DOCKERD = "/usr/sbin/dockerd";

/**
 * Whether a private engine can start here: dockerd installed (scripts/setup.sh installs it) and
 * root (dockerd needs it). True on the dev machine and in CI (root, Debian 12).
 */
export const engineAvailable: boolean =
  existsSync(DOCKERD) && typeof process.getuid === "function" && process.getuid() === 0;

export interface Dockerd {
  /** `unix:///…/docker.sock`: what a runner's `[runners.docker] host` takes. */
  host: string;
  socket: string;
  pid: number;
  /** Runs the docker CLI against this engine; returns stdout (throws with stderr on failure). */
  cli(args: string[], input?: string | Uint8Array): string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;

export async function startDockerd(): Promise<Dockerd> {
  if (!engineAvailable) throw new Error(`${DOCKERD} missing or not root: run scripts/setup.sh as root`);
  const root = await mkdtemp(join(tmpdir(), "runmesh-dockerd-"));
  const socket = join(root, "docker.sock");
  const pidFile = join(root, "docker.pid");
  const execRoot = join(root, "exec");
  const child: ChildProcess = spawn(
    DOCKERD,
    [
      "--data-root",
      join(root, "data"),
      "--exec-root",
      execRoot,
      "--pidfile",
      pidFile,
      "-H",
      `unix://${socket}`,
      "--bridge=none",
      "--iptables=false",
      "--ip6tables=false",
      "--storage-driver=overlay2",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-6000);
  });
  const host = `unix://${socket}`;
  const cli = (args: string[], input?: string | Uint8Array): string => {
    const r = spawnSync("docker", ["-H", host, ...args], {
      input,
      encoding: "utf8",
      env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: join(root, "cli") },
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.status !== 0) throw new Error(`docker ${args.join(" ")}: exit ${r.status}: ${r.stderr}`);
    return r.stdout;
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let ready = false;
  while (Date.now() < deadline && child.exitCode === null) {
    if (existsSync(socket) && (await ping(socket))) {
      ready = true;
      break;
    }
    await Bun.sleep(100);
  }
  const stop = async () => {
    const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim()) || child.pid;
    if (child.exitCode === null && child.signalCode === null && pid === child.pid) {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const killTimer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(killTimer);
    }
    // dockerd leaves its default network namespace mounted (nsfs) under the exec root.
    spawnSync("umount", [join(execRoot, "netns", "default")], { stdio: "ignore" });
    await rm(root, { recursive: true, force: true }).catch(() => {});
  };
  if (!ready) {
    await stop();
    throw new Error(`dockerd did not answer on ${socket} within ${READY_TIMEOUT_MS} ms; stderr:\n${stderr}`);
  }
  return { host, socket, pid: child.pid!, cli, stop };
}

async function ping(socket: string): Promise<boolean> {
  try {
    const r = await fetch("http://localhost/_ping", { unix: socket } as RequestInit);
    return r.ok;
  } catch {
    return false;
  }
}
