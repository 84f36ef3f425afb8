// Starts a private nats-server (the Debian package) on a free loopback port for tests, with
// JetStream on a throwaway store dir, and stops it by its pid only.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface NatsServerOptions {
  /** Enables JetStream (default true). */
  jetstream?: boolean;
  /** Port to listen on (default: a free one). */
  port?: number;
  /** JetStream store dir (default: a new temp dir, removed by `stop()`). */
  storeDir?: string;
  /** Serve nats-server's HTTP monitoring (/varz, /connz) on 127.0.0.1 at this port. */
  monitorPort?: number;
}

export interface NatsServer {
  url: string;
  port: number;
  /** Pid of the current process (changes on `restart()`). */
  pid: number;
  storeDir: string;
  /** Stops the server; removes the store dir if this helper created it. */
  stop(): Promise<void>;
  /** Stops and starts again on the same port and store dir (JetStream file store survives). */
  restart(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;

export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = findNatsServer();
  const port = opts.port ?? (await freePort());
  const ownStore = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? (await mkdtemp(join(tmpdir(), "runmesh-nats-")));
  const args = ["-a", "127.0.0.1", "-p", String(port)];
  if (opts.jetstream ?? true) args.push("-js", "-sd", storeDir);
  if (opts.monitorPort) args.push("-m", String(opts.monitorPort));

  let child = await launch(binary, args, port);
  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    storeDir,
    async stop() {
      await terminate(child);
      if (ownStore) await rm(storeDir, { recursive: true, force: true });
    },
    async restart() {
      await terminate(child);
      child = await launch(binary, args, port);
      server.pid = child.pid!;
    },
  };
  return server;
}

function findNatsServer(): string {
  for (const candidate of ["nats-server", "/usr/sbin/nats-server", "/usr/bin/nats-server"]) {
    const probe = spawnSync(candidate, ["--version"], { stdio: "ignore" });
    if (probe.status === 0) return candidate;
  }
  throw new Error(
    "nats-server not found: the NATS tests need the Debian package. Run `apt-get install nats-server` " +
      "(or `bash scripts/setup.sh`, which installs it).",
  );
}

async function launch(binary: string, args: string[], port: number): Promise<ChildProcess> {
  const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    // Keep the tail only: enough to explain a failed start.
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await accepts(port)) return child;
    await Promise.race([Bun.sleep(50), exited]);
  }
  child.kill("SIGKILL");
  throw new Error(
    `nats-server ${args.join(" ")} did not accept connections on 127.0.0.1:${port} within ` +
      `${READY_TIMEOUT_MS} ms (exit code ${child.exitCode}); its stderr:\n${stderr}`,
  );
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const killTimer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(killTimer);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** A port the OS just handed out on 127.0.0.1 (bound to port 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
