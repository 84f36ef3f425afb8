// The `docker` instance group: each instance is a container on a Docker engine, running sshd on
// the host network, each on its own loopback port, so an instance looks to the autoscaler like a
// small VM reachable over SSH (issue 15). Containers carry the group's label, so Update lists the
// group's own and nothing else, and a restarted plugin finds them again (adoption with state
// storage). An instance is `creating` until its sshd accepts connections. The public key it
// trusts is the connector's key (`use_static_credentials`) or one the group generates at Init
// and hands out in ConnectInfo, as cloud plugins do.
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import ssh2 from "ssh2";
import { z } from "zod";
import { connectEngine, type Engine, statusOf } from "../../libs/executors/docker/engine.ts";
import type { PluginLog } from "../../libs/fleeting/hclog.ts";
import {
  type ConnectInfo,
  type ConnectorConfig,
  type InstanceGroup,
  InstanceUnhealthyError,
  type Partial,
  type ProviderInfo,
  type ProviderState,
} from "../../libs/fleeting/instance-group.ts";
import { tcpProbe } from "../../libs/fleeting/tcp-probe.ts";
import { ed25519KeyPair } from "../../libs/ssh/ed25519-key.ts";

export const dockerConfigSchema = z.strictObject({
  /** The engine: unix:///path or tcp://host:port (default DOCKER_HOST). */
  docker_host: z.string().optional(),
  /** The instances' image: it must have /bin/sh and sshd. */
  image: z.string().min(1),
  /** Names the group: the containers' label and name prefix, ProviderInfo.ID `docker/<name>`. */
  name: z
    .string()
    .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, "expected letters, digits, _ . -")
    .default("default"),
  max_size: z.number().int().positive().default(10),
  /** Loopback ports the instances' sshd listen on, "FROM-TO". */
  port_range: z
    .string()
    .regex(/^\d+-\d+$/, 'expected "FROM-TO"')
    .default("22000-22999"),
  sshd_path: z.string().default("/usr/sbin/sshd"),
  /** Who logs in (default root); the connector's username wins. */
  username: z.string().default("root"),
  /** Extra mounts, docker's "source:target[:ro]" (e.g. a docker socket for docker-autoscaler). */
  binds: z.array(z.string()).default([]),
  /** Extra environment of the instance, "KEY=value". */
  env: z.array(z.string()).default([]),
});
export type DockerConfig = z.infer<typeof dockerConfigSchema>;

export function parseDockerConfig(raw: unknown): DockerConfig {
  const r = dockerConfigSchema.safeParse(raw ?? {});
  if (!r.success)
    throw new Error(
      `docker plugin_config: ${r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
    );
  const [from, to] = r.data.port_range.split("-").map(Number) as [number, number];
  if (!(from >= 1 && from <= to && to <= 65535))
    throw new Error(
      `docker plugin_config: port_range: expected 1 <= FROM <= TO <= 65535, got "${r.data.port_range}"`,
    );
  return r.data;
}

export const GROUP_LABEL = "runmesh.fleeting.group";
export const PORT_LABEL = "runmesh.fleeting.port";

/** The instance's command: its sshd on 127.0.0.1:$PORT with the keys from the environment. */
export function sshdScript(sshdPath: string): string {
  return [
    "set -e",
    "mkdir -p /run/sshd /etc/runmesh-ssh",
    "grep -q '^sshd:' /etc/passwd || echo 'sshd:x:100:65534::/run/sshd:/bin/false' >> /etc/passwd",
    'printf "%s\\n" "$RUNMESH_HOST_KEY" > /etc/runmesh-ssh/host_key',
    'printf "%s\\n" "$RUNMESH_AUTHORIZED_KEYS" > /etc/runmesh-ssh/authorized_keys',
    "chmod 600 /etc/runmesh-ssh/host_key",
    ": > /etc/runmesh-ssh/sshd_config",
    "unset RUNMESH_HOST_KEY",
    `exec ${sshdPath} -D -e -f /etc/runmesh-ssh/sshd_config -p "$RUNMESH_SSH_PORT" -o ListenAddress=127.0.0.1 -o HostKey=/etc/runmesh-ssh/host_key ` +
      "-o AuthorizedKeysFile=/etc/runmesh-ssh/authorized_keys -o PermitRootLogin=prohibit-password " +
      "-o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o UsePAM=no -o StrictModes=no " +
      "-o PidFile=none -o PrintMotd=no -o MaxSessions=64 -o MaxStartups=64:30:128 -o Subsystem='sftp /usr/lib/openssh/sftp-server'",
  ].join("\n");
}

/** Docker's container state as fleeting's; a stopped container is a failed instance to delete. */
export function stateOf(dockerState: string, sshdUp: boolean): ProviderState {
  switch (dockerState) {
    case "created":
    case "restarting":
      return "creating";
    case "running":
      return sshdUp ? "running" : "creating";
    case "removing":
      return "deleting";
    default:
      return "timeout";
  }
}

/** The first port of [from, to] not in `used` that `free` accepts. */
export async function pickPort(
  from: number,
  to: number,
  used: ReadonlySet<number>,
  free: (port: number) => Promise<boolean>,
): Promise<number | undefined> {
  for (let p = from; p <= to; p++) if (!used.has(p) && (await free(p))) return p;
  return undefined;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

function authorizedKeyOf(privateKey: string): string {
  const k = ssh2.utils.parseKey(privateKey);
  if (k instanceof Error) throw new Error(`connector key: ${k.message}`);
  const key = Array.isArray(k) ? k[0]! : k;
  return `${key.type} ${key.getPublicSSH().toString("base64")}`;
}

interface Listed {
  id: string;
  state: string;
  port: number;
}

export class DockerGroup implements InstanceGroup {
  private config!: DockerConfig;
  private engine!: Engine;
  private connector: ConnectorConfig = {};
  private privateKey!: string;
  private authorizedKey!: string;
  private hostKey!: string;
  /** Ports handed to containers being created, not listed yet. */
  private readonly reserved = new Set<number>();

  constructor(private readonly log: PluginLog) {}

  async init(pluginConfig: unknown, settings: { connectorConfig: ConnectorConfig }): Promise<ProviderInfo> {
    this.config = parseDockerConfig(pluginConfig);
    this.connector = settings.connectorConfig;
    this.engine = await connectEngine({ host: this.config.docker_host });
    await this.engine.ping().catch((err: Error) => {
      throw new Error(
        `docker plugin: engine ${this.config.docker_host ?? process.env.DOCKER_HOST}: ${err.message}`,
      );
    });
    if (this.connector.key) this.privateKey = this.connector.key;
    else {
      const pair = ed25519KeyPair();
      this.privateKey = pair.private;
    }
    this.authorizedKey = authorizedKeyOf(this.privateKey);
    this.hostKey = ed25519KeyPair().private;
    const existing = await this.list();
    this.log.info("docker group ready", { name: this.config.name, existing: existing.length });
    return {
      id: `docker/${this.config.name}`,
      maxSize: this.config.max_size,
      version: "1.0.0",
      buildInfo: "runmesh",
      capabilities: [],
    };
  }

  private async list(): Promise<Listed[]> {
    const cs = await this.engine.listContainers({
      all: true,
      filters: { label: [`${GROUP_LABEL}=${this.config.name}`] },
    });
    return cs.map((c) => ({
      id: (c.Names[0] ?? c.Id).replace(/^\//, ""),
      state: c.State,
      port: Number(c.Labels[PORT_LABEL]),
    }));
  }

  async update(report: (id: string, state: ProviderState) => void): Promise<void> {
    const listed = await this.list();
    const states = await Promise.all(
      listed.map(async (c) =>
        stateOf(c.state, c.state === "running" && !(await tcpProbe("127.0.0.1", c.port, 500))),
      ),
    );
    for (const [i, c] of listed.entries()) report(c.id, states[i]!);
  }

  async increase(delta: number): Promise<Partial<number>> {
    const listed = await this.list();
    const room = Math.max(0, Math.min(delta, this.config.max_size - listed.length));
    const used = new Set([...listed.map((c) => c.port), ...this.reserved]);
    const [from, to] = this.config.port_range.split("-").map(Number) as [number, number];
    let created = 0;
    let error: Error | undefined;
    const starts: Promise<void>[] = [];
    for (let k = 0; k < room; k++) {
      const port = await pickPort(from, to, used, portFree);
      if (port === undefined) {
        error = new Error(`no free loopback port left in ${this.config.port_range}`);
        break;
      }
      used.add(port);
      this.reserved.add(port);
      starts.push(
        this.create(port)
          .then(() => {
            created++;
          })
          .catch((err: Error) => {
            error = err;
            this.log.error("instance create failed", { port, err: err.message });
          })
          .finally(() => this.reserved.delete(port)),
      );
    }
    await Promise.all(starts);
    if (!error && room < delta) error = new Error(`max_size ${this.config.max_size} reached`);
    return error ? { succeeded: created, error } : { succeeded: created };
  }

  private async create(port: number): Promise<void> {
    const name = `runmesh-fleeting-${this.config.name}-${randomBytes(4).toString("hex")}`;
    const c = await this.engine.createContainer({
      name,
      Image: this.config.image,
      Cmd: ["/bin/sh", "-c", sshdScript(this.config.sshd_path)],
      Env: [
        `RUNMESH_SSH_PORT=${port}`,
        `RUNMESH_HOST_KEY=${this.hostKey}`,
        `RUNMESH_AUTHORIZED_KEYS=${this.authorizedKey}`,
        ...this.config.env,
      ],
      Labels: { [GROUP_LABEL]: this.config.name, [PORT_LABEL]: String(port) },
      HostConfig: { NetworkMode: "host", Binds: this.config.binds, Init: true },
    });
    await c.start();
    this.log.info("instance created", { id: name, port });
  }

  async decrease(ids: readonly string[]): Promise<Partial<string[]>> {
    const mine = new Set((await this.list()).map((c) => c.id));
    const done: string[] = [];
    const failed: string[] = [];
    await Promise.all(
      ids.map(async (id) => {
        if (!mine.has(id)) return void failed.push(`${id} (not in the group)`);
        try {
          await this.engine.getContainer(id).remove({ force: true });
          done.push(id);
        } catch (err) {
          if (statusOf(err) === 404) done.push(id);
          else failed.push(`${id} (${(err as Error).message})`);
        }
      }),
    );
    return failed.length
      ? { succeeded: done, error: new Error(`not removed: ${failed.join(", ")}`) }
      : { succeeded: done };
  }

  async connectInfo(id: string): Promise<ConnectInfo> {
    const c = (await this.list()).find((x) => x.id === id);
    if (!c) throw new Error(`connect info of ${id}: no such instance in docker group "${this.config.name}"`);
    const addr = `127.0.0.1:${c.port}`;
    return {
      os: "linux",
      arch: process.arch === "x64" ? "amd64" : process.arch,
      ...this.connector,
      protocol: "ssh",
      protocolPort: c.port,
      username: this.connector.username || this.config.username,
      key: this.privateKey,
      id,
      internalAddr: addr,
      externalAddr: addr,
    };
  }

  async heartbeat(id: string): Promise<void> {
    const c = (await this.list()).find((x) => x.id === id);
    if (!c) throw new InstanceUnhealthyError(id, "container gone");
    if (c.state !== "running") throw new InstanceUnhealthyError(id, `container ${c.state}`);
    const why = await tcpProbe("127.0.0.1", c.port, 2000);
    if (why) throw new InstanceUnhealthyError(id, `sshd: ${why}`);
  }

  async shutdown(): Promise<void> {}
}
