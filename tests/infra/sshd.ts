// Starts a private OpenSSH sshd (the Debian openssh-server package) on a free loopback port for
// the SSH executor's tests: its own host key, config and authorized_keys in a temp dir, key and
// password authentication, and a throwaway login user created with useradd when missing (the
// tests run as root). Stopped by its pid only. See shared/reference/test-infra.md §5.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./nats-server.ts";

export const SSHD = "/usr/sbin/sshd";

/** Why sshd tests cannot run here, or undefined when they can. */
export function sshdMissing(): string | undefined {
  if (spawnSync(SSHD, ["-V"], { stdio: "ignore" }).error) return "no /usr/sbin/sshd (bash scripts/setup.sh)";
  if (process.getuid?.() !== 0) return "not root: sshd needs root to switch users";
  return undefined;
}

export interface Sshd {
  host: string;
  port: number;
  /** The login user (created if missing) and its password. */
  user: string;
  password: string;
  /** A client private key authorized for `user` (and for root). */
  identityFile: string;
  /** A known_hosts file holding this server's host key as `[127.0.0.1]:port`. */
  knownHostsFile: string;
  /** A known_hosts file naming this server with some other key (a changed host key). */
  wrongKnownHostsFile: string;
  dir: string;
  stop(): Promise<void>;
}

const USER = "runmesh-ssh-test";
const PASSWORD = "runmesh-ssh-pw";

export async function startSshd(o: { user?: string } = {}): Promise<Sshd> {
  const missing = sshdMissing();
  if (missing) throw new Error(`cannot start sshd: ${missing}`);
  const user = o.user ?? USER;
  ensureUser(user, PASSWORD);
  const dir = await mkdtemp(join(tmpdir(), "runmesh-sshd-"));
  await chmod(dir, 0o755);
  await mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  keygen(join(dir, "hostkey"));
  keygen(join(dir, "key"));
  keygen(join(dir, "otherkey"));
  const clientPub = await readFile(join(dir, "key.pub"), "utf8");
  await writeFile(join(dir, "authorized_keys"), clientPub, { mode: 0o644 });
  const port = await freePort();
  const config = [
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${join(dir, "hostkey")}`,
    `PidFile ${join(dir, "sshd.pid")}`,
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "PasswordAuthentication yes",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "StrictModes no",
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    "PrintMotd no",
    "MaxSessions 64",
    "MaxStartups 64:30:128",
  ].join("\n");
  await writeFile(join(dir, "sshd_config"), `${config}\n`);
  const hostPub = (await readFile(join(dir, "hostkey.pub"), "utf8")).trim().split(/\s+/);
  const otherPub = (await readFile(join(dir, "otherkey.pub"), "utf8")).trim().split(/\s+/);
  const name = `[127.0.0.1]:${port}`;
  await writeFile(join(dir, "known_hosts"), `${name} ${hostPub[0]} ${hostPub[1]}\n`);
  await writeFile(join(dir, "wrong_known_hosts"), `${name} ${otherPub[0]} ${otherPub[1]}\n`);

  const child = spawn(SSHD, ["-D", "-e", "-f", join(dir, "sshd_config")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (c: string) => {
    stderr = (stderr + c).slice(-4000);
  });
  await ready(child, port, () => stderr);
  return {
    host: "127.0.0.1",
    port,
    user,
    password: PASSWORD,
    identityFile: join(dir, "key"),
    knownHostsFile: join(dir, "known_hosts"),
    wrongKnownHostsFile: join(dir, "wrong_known_hosts"),
    dir,
    async stop() {
      await terminate(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function keygen(path: string): void {
  const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "runmesh-test", "-f", path]);
  if (r.status !== 0) throw new Error(`ssh-keygen ${path}: ${r.stderr}`);
}

/** The login user with a password and a bash home, created once (kept: other runs reuse it). */
function ensureUser(user: string, password: string): void {
  if (spawnSync("id", ["-u", user]).status !== 0) {
    const r = spawnSync("useradd", ["-m", "-s", "/bin/bash", user], { encoding: "utf8" });
    if (r.status !== 0 && spawnSync("id", ["-u", user]).status !== 0)
      throw new Error(`useradd ${user}: ${r.stderr}`);
  }
  const r = spawnSync("chpasswd", [], { input: `${user}:${password}\n`, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`chpasswd ${user}: ${r.stderr}`);
  // Debian's skeleton .bash_logout runs clear_console, which fails without a terminal and turns
  // every login shell's exit into 1: GitLab's documented fix is to remove it (shells/#shell-profile-loading).
  spawnSync("rm", ["-f", `${homeOf(user)}/.bash_logout`]);
}

function homeOf(user: string): string {
  return spawnSync("getent", ["passwd", user], { encoding: "utf8" }).stdout.split(":")[5] ?? `/home/${user}`;
}

async function ready(child: ChildProcess, port: number, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    // ssh-keyscan speaks the protocol: no "kex_exchange_identification" noise in sshd's log.
    const scan = spawnSync("ssh-keyscan", ["-p", String(port), "-T", "2", "127.0.0.1"], {
      encoding: "utf8",
    });
    if (scan.stdout?.includes("ssh-ed25519")) return;
    await Bun.sleep(50);
  }
  child.kill("SIGKILL");
  throw new Error(`sshd on 127.0.0.1:${port} did not answer within 10 s; its stderr:\n${stderr()}`);
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(t);
}
