// A conformance kit for fleeting plugins: launches a plugin binary through go-plugin's handshake
// (plugin-host.ts) and checks what a host relies on (autoscaling.md §1.2.4 "invariants a
// conformance suite should check", fleeting-protocol.md §2): the handshake and the services every
// go-plugin server serves, the cookie check, then the InstanceGroup lifecycle: Init, Increase
// without waiting for boot, instances reaching `running` with stable ids, ConnectInfo that logs in
// over SSH, Heartbeat, Decrease touching exactly what it is given, Shutdown not deleting instances
// (a restarted plugin still lists them), and the controller's Shutdown ending the process.
// Run it with `bun test libs/fleeting/conformance.test.ts` and FLEETING_CONFORMANCE_PLUGIN set.
import { spawn } from "node:child_process";
import ssh2 from "ssh2";
import type { Logger } from "../log/logger.ts";
import type { ConnectInfo, ConnectorConfig, ProviderState } from "./instance-group.ts";
import { type FleetingWire, fleetingWire, NOT_A_COMMAND_MESSAGE } from "./plugin-constants.ts";
import { launchPlugin, type PluginProcess } from "./plugin-host.ts";

export interface ConformanceTarget {
  /** The plugin binary (then arguments, for plugins run by an interpreter). */
  command: string[];
  name?: string;
  /** JSON of [runners.autoscaler.plugin_config] for a group that starts empty. */
  pluginConfig: unknown;
  connectorConfig?: ConnectorConfig;
  env?: Record<string, string | undefined>;
  wire?: globalThis.Partial<FleetingWire>;
  /** Instances to create (default 2; the group must allow as many). */
  instances?: number;
  /** How long instances may take to reach `running` or to go (default 60 s). */
  settleTimeoutMs?: number;
  /** Log in over SSH with each instance's ConnectInfo and run `echo` (default true). */
  sshLogin?: boolean;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  detail?: string;
}

class CheckFailed extends Error {}

function check(cond: unknown, detail: string): asserts cond {
  if (!cond) throw new CheckFailed(detail);
}

async function listed(p: PluginProcess): Promise<Map<string, ProviderState>> {
  const m = new Map<string, ProviderState>();
  await p.group.update((id, state) => {
    check(!m.has(id), `Update reported ${id} twice`);
    m.set(id, state);
  });
  return m;
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new CheckFailed(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Logs in with ConnectInfo and runs `echo`; resolves with what it printed. */
export function sshEcho(info: ConnectInfo, text: string): Promise<string> {
  const addr = info.externalAddr ?? info.internalAddr ?? "";
  const i = addr.lastIndexOf(":");
  const host = i > 0 ? addr.slice(0, i) : addr;
  const port = i > 0 ? Number(addr.slice(i + 1)) : (info.protocolPort ?? 22);
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    const fail = (e: Error) => {
      c.end();
      reject(e);
    };
    c.on("error", fail);
    c.on("ready", () =>
      c.exec(`echo ${text}`, (err, stream) => {
        if (err) return fail(err);
        let out = "";
        stream.on("data", (d: Buffer) => {
          out += d.toString();
        });
        stream.stderr.on("data", () => {});
        stream.on("close", () => {
          c.end();
          resolve(out.trim());
        });
      }),
    );
    c.connect({
      host,
      port,
      username: info.username ?? "root",
      ...(info.key ? { privateKey: info.key } : {}),
      ...(info.password ? { password: info.password } : {}),
      readyTimeout: 10_000,
    });
  });
}

/** Runs every check in order; a failed lifecycle step fails the steps that need it. */
export async function runConformance(t: ConformanceTarget, logger: Logger): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const n = t.instances ?? 2;
  const settle = t.settleTimeoutMs ?? 60_000;
  const wire = fleetingWire(t.env ?? process.env, t.wire);
  const launch = () =>
    launchPlugin({
      command: t.command,
      name: t.name,
      logger,
      env: t.env,
      wire: t.wire,
      startTimeoutMs: settle,
    });
  let blocked: string | undefined;
  const step = async (name: string, run: () => Promise<void>, independent = false) => {
    if (blocked && !independent)
      return void results.push({ name, ok: false, detail: `not run: "${blocked}" failed` });
    try {
      await run();
      results.push({ name, ok: true });
    } catch (err) {
      results.push({ name, ok: false, detail: (err as Error).message });
      if (!independent) blocked = name;
    }
  };

  await step(
    "refuses to run without the magic cookie (exit 1, go-plugin's message)",
    async () => {
      const env = { ...(t.env ?? process.env) };
      delete env[wire.cookieKey];
      const child = spawn(t.command[0]!, t.command.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
      let err = "";
      child.stderr.on("data", (d: Buffer) => {
        err += d.toString();
      });
      const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
      check(code === 1, `exit status ${code}, expected 1`);
      check(
        err.includes(NOT_A_COMMAND_MESSAGE.split("\n")[0]!),
        `stderr was ${JSON.stringify(err.slice(0, 200))}`,
      );
    },
    true,
  );

  let p: PluginProcess | undefined;
  const created: string[] = [];
  try {
    await step("handshake: core 1, an offered app version, a unix socket, grpc", async () => {
      p = await launch();
      check(p.handshake.core === 1, `core ${p.handshake.core}`);
      check(wire.protocolVersions.includes(p.handshake.appVersion), `app version ${p.handshake.appVersion}`);
      check(
        process.platform !== "linux" || p.handshake.network === "unix",
        `network ${p.handshake.network} on Linux`,
      );
    });
    await step('health: "plugin" is SERVING', async () => check(await p!.health(), "not SERVING"));
    await step(
      "reflection: an InstanceGroup service with Init, Update, Increase, Decrease, ConnectInfo",
      async () =>
        check(
          p!.schema.source === "reflection",
          `schema from ${p!.schema.source}: the plugin serves no reflection`,
        ),
    );
    let maxSize = 0;
    await step("Init returns ProviderInfo with an id and a MaxSize", async () => {
      const info = await p!.group.init(t.pluginConfig, { connectorConfig: t.connectorConfig ?? {} });
      check(info.id.length > 0, "empty ProviderInfo.ID");
      check(info.maxSize >= n, `MaxSize ${info.maxSize} < the ${n} instances the kit creates`);
      maxSize = info.maxSize;
    });
    let before = new Map<string, ProviderState>();
    await step("Update on a fresh group reports nothing twice", async () => {
      before = await listed(p!);
    });
    await step(`Increase(${n}) succeeds for ${n} and returns before the instances run`, async () => {
      const r = await p!.group.increase(n);
      check(
        r.succeeded === n && !r.error,
        `succeeded ${r.succeeded}${r.error ? `: ${r.error.message}` : ""}`,
      );
      const after = await listed(p!);
      const fresh = [...after.keys()].filter((id) => !before.has(id));
      created.push(...fresh);
      check(fresh.length === n, `${fresh.length} new ids in Update, expected ${n}`);
      for (const id of fresh)
        check(
          ["creating", "running"].includes(after.get(id)!),
          `${id} is ${after.get(id)} right after Increase`,
        );
    });
    await step("the new instances reach running, with the same ids", async () => {
      await until("all running", settle, async () => {
        const m = await listed(p!);
        for (const id of created) check(m.has(id), `${id} vanished from Update`);
        return created.every((id) => m.get(id) === "running") ? true : undefined;
      });
    });
    await step("Update is idempotent: two calls report the same instances and states", async () => {
      const a = JSON.stringify([...(await listed(p!))].sort());
      const b = JSON.stringify([...(await listed(p!))].sort());
      check(a === b, `${a} then ${b}`);
    });
    await step("ConnectInfo names each instance and an address", async () => {
      for (const id of created) {
        const info = await p!.group.connectInfo(id);
        check(info.id === id, `ConnectInfo(${id}).ID = ${info.id}`);
        check(info.internalAddr || info.externalAddr, `ConnectInfo(${id}) has no address`);
      }
    });
    if (t.sshLogin !== false)
      await step("each instance accepts an SSH login with its ConnectInfo", async () => {
        for (const id of created) {
          const out = await sshEcho(await p!.group.connectInfo(id), `conformance-${id.length}`);
          check(out === `conformance-${id.length}`, `ssh to ${id} printed ${JSON.stringify(out)}`);
        }
      });
    await step("Heartbeat of a running instance succeeds", async () => {
      for (const id of created) await p!.group.heartbeat(id);
    });
    await step("Decrease of an unknown id reports it not done and touches nothing", async () => {
      const r = await p!.group.decrease(["conformance-no-such-instance"]);
      check(!r.succeeded.includes("conformance-no-such-instance"), "the unknown id was reported deleted");
      const m = await listed(p!);
      for (const id of created) check(m.has(id), `${id} went after an unrelated Decrease`);
    });
    if (maxSize < Number.MAX_SAFE_INTEGER && maxSize <= 64)
      await step("Increase past MaxSize succeeds only up to it", async () => {
        const have = (await listed(p!)).size;
        const r = await p!.group.increase(maxSize - have + 1);
        const m = await listed(p!);
        const extra = [...m.keys()].filter((id) => !before.has(id) && !created.includes(id));
        created.push(...extra);
        check(r.succeeded === maxSize - have, `succeeded ${r.succeeded}, expected ${maxSize - have}`);
        check(m.size <= maxSize, `${m.size} instances listed, MaxSize ${maxSize}`);
      });
    await step("Shutdown RPC keeps the instances; a restarted plugin lists them again", async () => {
      await p!.group.shutdown();
      await p!.kill();
      p = await launch();
      await p.group.init(t.pluginConfig, { connectorConfig: t.connectorConfig ?? {} });
      const m = await listed(p);
      for (const id of created) check(m.has(id), `${id} is gone after Shutdown and a restart`);
    });
    await step("Decrease removes exactly the instances given", async () => {
      const [gone, ...kept] = created;
      const r = await p!.group.decrease([gone!]);
      check(
        r.succeeded.includes(gone!) && !r.error,
        `Decrease(${gone}): ${JSON.stringify(r.succeeded)} ${r.error?.message ?? ""}`,
      );
      await until(`${gone} gone from Update`, settle, async () => {
        const m = await listed(p!);
        for (const id of kept) check(m.has(id), `${id} went with ${gone}`);
        return !m.has(gone!) || m.get(gone!) === "deleted" ? true : undefined;
      });
      created.shift();
    });
    await step("controller Shutdown ends the process by itself", async () => {
      const r = await p!.group.decrease(created.splice(0));
      check(!r.error, `cleanup Decrease: ${r.error?.message}`);
      await p!.kill();
      const code = await p!.exited;
      check(code !== "SIGKILL", "the plugin had to be killed");
    });
  } finally {
    if (p && created.length) await p.group.decrease(created).catch(() => {});
    await p?.kill();
  }
  return results;
}
