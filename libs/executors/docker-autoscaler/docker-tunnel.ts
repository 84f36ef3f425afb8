// The instance's Docker Engine API brought to the worker: a unix socket of the worker's (in a
// 0700 directory) whose every connection is forwarded over one SSH connection to the instance,
// to the engine's unix socket there (OpenSSH's direct-streamlocal, `ssh -L local.sock:/var/run/docker.sock`)
// or its TCP address. GitLab Runner's docker-autoscaler dials the engine through its fleeting
// connector the same way; the engine is never exposed on the network.
import { mkdirSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import type { Client, ConnectConfig } from "ssh2";
import type { SshTarget } from "../../ssh/connector.ts";

/** Where the engine listens on the instance: `unix:///path` or `tcp://host:port` ([runners.docker] host). */
export type RemoteEngine = { socketPath: string } | { host: string; port: number };

export function remoteEngine(host: string | undefined): RemoteEngine {
  if (!host) return { socketPath: "/var/run/docker.sock" };
  if (host.startsWith("unix://")) return { socketPath: host.slice("unix://".length) };
  const m = /^tcp:\/\/([^:/]+|\[[^\]]+\]):(\d+)\/?$/.exec(host);
  if (!m)
    throw new Error(
      `[runners.docker] host: expected the engine's address on the instance, "unix:///var/run/docker.sock" or "tcp://127.0.0.1:2375", got ${JSON.stringify(host)}`,
    );
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]) };
}

export interface DockerTunnel {
  /** `unix://…`: what the docker executor's engine connects to. */
  readonly host: string;
  close(): Promise<void>;
}

let sshModule: Promise<typeof import("ssh2")> | undefined;

export async function openDockerTunnel(o: {
  target: SshTarget;
  privateKey?: string;
  remote: RemoteEngine;
  /** A 0700 directory of the worker's for the local socket. */
  dir: string;
  name: string;
}): Promise<DockerTunnel> {
  sshModule ??= import("ssh2");
  const { Client } = await sshModule;
  const client: Client = new Client();
  const config: ConnectConfig = {
    host: o.target.host,
    port: o.target.port,
    username: o.target.user,
    password: o.target.password ?? "",
    privateKey: o.privateKey,
    readyTimeout: o.target.connectTimeoutMs ?? 60_000,
    keepaliveInterval: o.target.keepaliveIntervalMs ?? 30_000,
    keepaliveCountMax: 3,
  };
  await new Promise<void>((resolve, reject) => {
    client.once("ready", () => resolve());
    client.once("error", (e: Error) =>
      reject(new Error(`ssh ${o.target.user}@${o.target.host}:${o.target.port}: ${e.message}`)),
    );
    client.connect(config);
  });
  client.on("error", () => {});
  const forward = (local: Socket) => {
    const onStream = (err: Error | undefined, stream: NodeJS.ReadWriteStream & { destroy(): void }) => {
      if (err) {
        local.destroy();
        return;
      }
      local.pipe(stream).pipe(local);
      local.on("error", () => stream.destroy());
      local.on("close", () => stream.destroy());
      stream.on("error", () => local.destroy());
    };
    if ("socketPath" in o.remote) client.openssh_forwardOutStreamLocal(o.remote.socketPath, onStream);
    else client.forwardOut("127.0.0.1", 0, o.remote.host, o.remote.port, onStream);
    local.on("error", () => {});
  };
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const path = join(o.dir, `${o.name}.sock`);
  rmSync(path, { force: true });
  const sockets = new Set<Socket>();
  // Half-open: a client that ends its stdin (docker attach) still reads the output.
  const server: Server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    forward(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  return {
    host: `unix://${path}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      client.end();
      rmSync(path, { force: true });
    },
  };
}
