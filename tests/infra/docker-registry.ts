// A local OCI registry for pull-policy tests (Debian's docker-registry 2.8, test-infra.md §3) on
// a free 127.0.0.1 port, with a throwaway storage dir; stopped by its pid only.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./nats-server.ts";

export const DOCKER_REGISTRY = "/usr/bin/docker-registry";

export interface LocalRegistry {
  /** `127.0.0.1:<port>`: the prefix of image names pushed there. */
  address: string;
  pid: number;
  stop(): Promise<void>;
}

/** `auth`: basic auth from an htpasswd file (bcrypt), as a private registry asks for it. */
export async function startRegistry(
  o: { auth?: { username: string; password: string } } = {},
): Promise<LocalRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "runmesh-registry-"));
  const port = await freePort();
  const config = join(dir, "config.yml");
  await writeFile(
    config,
    [
      "version: 0.1",
      "log: { level: warn, accesslog: { disabled: true } }",
      `storage: { filesystem: { rootdirectory: ${join(dir, "data")} }, delete: { enabled: true } }`,
      `http: { addr: 127.0.0.1:${port} }`,
      ...(o.auth ? [`auth: { htpasswd: { realm: runmesh-test, path: ${join(dir, "htpasswd")} } }`] : []),
      "",
    ].join("\n"),
  );
  if (o.auth) {
    const hash = Bun.password.hashSync(o.auth.password, { algorithm: "bcrypt", cost: 4 });
    await writeFile(join(dir, "htpasswd"), `${o.auth.username}:${hash}\n`);
  }
  const child: ChildProcess = spawn(DOCKER_REGISTRY, ["serve", config], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (c: string) => {
    stderr = (stderr + c).slice(-4000);
  });
  const address = `127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    const ok = await fetch(`http://${address}/v2/`).then(
      (r) => r.ok || r.status === 401,
      () => false,
    );
    if (ok) return { address, pid: child.pid!, stop };
    await Bun.sleep(50);
  }
  await stop();
  throw new Error(`docker-registry did not answer on ${address}; stderr:\n${stderr}`);
}
