// The `static` instance group: a fixed list of SSH hosts the operator already runs. Increase
// takes free hosts from the list (in order) into the group, Decrease gives them back; nothing is
// created or destroyed, so MaxSize is the list's length. Heartbeat is a TCP connect to the host's
// SSH port. With `state_file`, which hosts are in the group survives a plugin restart, so a
// runner restarted with state_storage adopts them (autoscaling.md §1.2.4 step 2).
import { readFile, rename, writeFile } from "node:fs/promises";
import { z } from "zod";
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

const credentials = {
  username: z.string().optional(),
  password: z.string().optional(),
  /** A private key file for this host (read at ConnectInfo). */
  key_path: z.string().optional(),
  os: z.string().optional(),
  arch: z.string().optional(),
};
const hostSchema = z.union([
  z.string().regex(/^[^\s:]+:\d+$/, 'expected "host:port"'),
  z.strictObject({
    addr: z.string().regex(/^[^\s:]+:\d+$/, 'expected "host:port"'),
    id: z.string().optional(),
    ...credentials,
  }),
]);

export const staticConfigSchema = z.strictObject({
  /** The hosts, as "host:port" or tables with their own credentials. */
  hosts: z.array(hostSchema).min(1),
  /** Names the group (ProviderInfo.ID `static/<name>`). */
  name: z.string().default("default"),
  /** Where the ids in the group are kept across restarts (optional). */
  state_file: z.string().optional(),
  heartbeat_timeout_ms: z.number().int().positive().default(2000),
  ...credentials,
});
export type StaticConfig = z.infer<typeof staticConfigSchema>;

interface StaticHost {
  id: string;
  host: string;
  port: number;
  creds: { username?: string; password?: string; key_path?: string; os?: string; arch?: string };
}

/** The plugin_config, checked, with errors naming the key as GitLab Runner's config errors do. */
export function parseStaticConfig(raw: unknown): { config: StaticConfig; hosts: StaticHost[] } {
  const r = staticConfigSchema.safeParse(raw ?? {});
  if (!r.success)
    throw new Error(
      `static plugin_config: ${r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
    );
  const hosts = r.data.hosts.map((h): StaticHost => {
    const e = typeof h === "string" ? { addr: h } : h;
    const i = e.addr.lastIndexOf(":");
    const { addr: _a, id: _i, ...creds } = e as typeof e & { id?: string };
    return {
      id: (e as { id?: string }).id ?? e.addr,
      host: e.addr.slice(0, i),
      port: Number(e.addr.slice(i + 1)),
      creds,
    };
  });
  const dup = hosts.find((h, k) => hosts.findIndex((o) => o.id === h.id) !== k);
  if (dup) throw new Error(`static plugin_config: hosts: "${dup.id}" is listed twice`);
  return { config: r.data, hosts };
}

export class StaticGroup implements InstanceGroup {
  private hosts: StaticHost[] = [];
  private config!: StaticConfig;
  private readonly taken = new Set<string>();
  private connector: ConnectorConfig = {};

  constructor(private readonly log: PluginLog) {}

  async init(pluginConfig: unknown, settings: { connectorConfig: ConnectorConfig }): Promise<ProviderInfo> {
    const { config, hosts } = parseStaticConfig(pluginConfig);
    this.config = config;
    this.hosts = hosts;
    this.connector = settings.connectorConfig;
    if (config.state_file) {
      const saved = await readFile(config.state_file, "utf8").then(
        (t) => JSON.parse(t) as string[],
        () => [],
      );
      for (const id of saved) if (hosts.some((h) => h.id === id)) this.taken.add(id);
    }
    this.log.info("static group ready", { hosts: hosts.length, in_group: this.taken.size });
    return {
      id: `static/${config.name}`,
      maxSize: hosts.length,
      version: "1.0.0",
      buildInfo: "runmesh",
      capabilities: [],
    };
  }

  async update(report: (id: string, state: ProviderState) => void): Promise<void> {
    for (const h of this.hosts) if (this.taken.has(h.id)) report(h.id, "running");
  }

  async increase(delta: number): Promise<Partial<number>> {
    const free = this.hosts.filter((h) => !this.taken.has(h.id)).slice(0, Math.max(0, delta));
    for (const h of free) this.taken.add(h.id);
    await this.save();
    return free.length < delta
      ? {
          succeeded: free.length,
          error: new Error(`only ${free.length} of ${delta} asked: every listed host is in the group`),
        }
      : { succeeded: free.length };
  }

  async decrease(ids: readonly string[]): Promise<Partial<string[]>> {
    const done = ids.filter((id) => this.taken.delete(id));
    await this.save();
    const unknown = ids.filter((id) => !done.includes(id));
    return unknown.length
      ? { succeeded: done, error: new Error(`not in the group: ${unknown.join(", ")}`) }
      : { succeeded: done };
  }

  async connectInfo(id: string): Promise<ConnectInfo> {
    const h = this.hosts.find((x) => x.id === id);
    if (!h) throw new Error(`connect info of ${id}: not a listed host`);
    const key = h.creds.key_path ?? this.config.key_path;
    const username = h.creds.username ?? this.config.username;
    const password = h.creds.password ?? this.config.password;
    const os = h.creds.os ?? this.config.os;
    const arch = h.creds.arch ?? this.config.arch;
    const addr = `${h.host}:${h.port}`;
    return {
      ...this.connector,
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      ...(key ? { key: await readFile(key, "utf8") } : {}),
      ...(os ? { os } : {}),
      ...(arch ? { arch } : {}),
      protocol: this.connector.protocol ?? "ssh",
      protocolPort: h.port,
      id,
      internalAddr: addr,
      externalAddr: addr,
    };
  }

  async heartbeat(id: string): Promise<void> {
    const h = this.hosts.find((x) => x.id === id);
    if (!h || !this.taken.has(id)) throw new InstanceUnhealthyError(id, "not in the group");
    const why = await tcpProbe(h.host, h.port, this.config.heartbeat_timeout_ms);
    if (why) throw new InstanceUnhealthyError(id, why);
  }

  async shutdown(): Promise<void> {}

  private async save(): Promise<void> {
    const file = this.config.state_file;
    if (!file) return;
    await writeFile(`${file}.tmp`, JSON.stringify([...this.taken]));
    await rename(`${file}.tmp`, file);
  }
}
