// A fleeting plugin process behind the InstanceGroup contract, for the autoscaler: the plugin is
// started (plugin-host.ts) when the group is initialised, which happens only once an autoscaler
// owns the group, so a standby runs no plugin and never touches the cloud. Shutdown sends the
// plugin's Shutdown RPC and then stops the process. A plugin that dies is started again and
// initialised with the same config on the next call, with a warning naming it.
import { createLogger, type Logger } from "../log/logger.ts";
import type {
  ConnectInfo,
  ConnectorConfig,
  InstanceGroup,
  Partial,
  ProviderInfo,
  ProviderState,
} from "./instance-group.ts";
import { STATUS } from "./instance-group-wire.ts";
import type { FleetingWire } from "./plugin-constants.ts";
import type { PluginProcess } from "./plugin-host.ts";

export interface PluginProcessGroupOptions {
  command: string[];
  /** How logs name the plugin (the `plugin` value of config.toml). */
  name: string;
  runnerName: string;
  logger?: Logger;
  wire?: globalThis.Partial<FleetingWire>;
}

export class PluginProcessGroup implements InstanceGroup {
  private proc: PluginProcess | undefined;
  private exitedEarly = false;
  private initArgs: [unknown, { connectorConfig: ConnectorConfig }] | undefined;
  private readonly logger: Logger;

  constructor(private readonly o: PluginProcessGroupOptions) {
    this.logger = (o.logger ?? createLogger({ service: "autoscaler" })).child({ runner_name: o.runnerName });
  }

  private async start(): Promise<PluginProcess> {
    // gRPC and protobufjs load with the first plugin, not with every autoscaler (idle RSS).
    const { launchPlugin } = await import("./plugin-host.ts");
    const p = await launchPlugin({
      command: this.o.command,
      name: this.o.name,
      logger: this.logger,
      wire: this.o.wire,
    });
    this.exitedEarly = false;
    void p.exited.then(() => {
      if (this.proc === p) this.exitedEarly = true;
    });
    this.proc = p;
    return p;
  }

  async init(pluginConfig: unknown, settings: { connectorConfig: ConnectorConfig }): Promise<ProviderInfo> {
    this.initArgs = [pluginConfig, settings];
    if (this.proc) await this.stop();
    const p = await this.start();
    return p.group.init(pluginConfig, settings);
  }

  /** The running plugin; one that died is started and initialised again. */
  private async live(): Promise<InstanceGroup> {
    if (!this.initArgs) throw new Error(`fleeting plugin "${this.o.name}": used before Init`);
    if (this.proc && !this.exitedEarly) return this.proc.group;
    this.logger.warn(
      { plugin: this.o.name, code: await this.proc?.exited },
      "fleeting plugin exited; starting it again",
    );
    await this.proc?.kill();
    const p = await this.start();
    await p.group.init(...this.initArgs);
    return p.group;
  }

  /** Runs `call` on the live plugin; a call the plugin died under runs once more on its successor. */
  private async run<T>(call: (g: InstanceGroup) => Promise<T>): Promise<T> {
    const g = await this.live();
    const p = this.proc;
    try {
      return await call(g);
    } catch (err) {
      if ((err as { code?: number }).code !== STATUS.UNAVAILABLE || !p) throw err;
      const died = await Promise.race([p.exited.then(() => true), sleep(1000).then(() => false)]);
      if (!died) throw err;
      this.exitedEarly = true;
      return call(await this.live());
    }
  }

  update(report: (id: string, state: ProviderState) => void): Promise<void> {
    return this.run((g) => g.update(report));
  }
  increase(delta: number): Promise<Partial<number>> {
    return this.run((g) => g.increase(delta));
  }
  decrease(ids: readonly string[]): Promise<Partial<string[]>> {
    return this.run((g) => g.decrease(ids));
  }
  connectInfo(id: string): Promise<ConnectInfo> {
    return this.run((g) => g.connectInfo(id));
  }
  heartbeat(id: string): Promise<void> {
    return this.run((g) => g.heartbeat(id));
  }

  async shutdown(): Promise<void> {
    if (!this.proc) return;
    try {
      if (!this.exitedEarly) await this.proc.group.shutdown();
    } finally {
      await this.stop();
    }
  }

  private async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    await p?.kill();
  }

  /** The plugin's pid while it runs (tests). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
