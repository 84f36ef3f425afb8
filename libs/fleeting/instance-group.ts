// Fleeting's provider contract (`provider.InstanceGroup`, fleeting-protocol.md §3.3) in
// TypeScript: what the autoscaler drives, whether the group is a real plugin over go-plugin/gRPC
// (issue 14 part 2) or the in-memory group the tests and `simulate` use.

/** What a plugin reports per instance in Update; unknown provider states are simply not reported. */
export type ProviderState = "creating" | "running" | "deleting" | "deleted" | "timeout";

export interface ConnectorConfig {
  os?: string;
  arch?: string;
  protocol?: "ssh" | "winrm" | "winrm+https";
  protocolPort?: number;
  username?: string;
  password?: string;
  /** Private key bytes (PEM). */
  key?: string;
  useStaticCredentials?: boolean;
  keepaliveMs?: number;
  timeoutMs?: number;
}

export interface ConnectInfo extends ConnectorConfig {
  id: string;
  externalAddr?: string;
  internalAddr?: string;
  /** Epoch ms after which ConnectInfo must be asked again (short-lived credentials). */
  expiresAt?: number;
}

export interface ProviderInfo {
  /** Stable group id, e.g. `hetzner/fsn1/runners`. */
  id: string;
  /** The plugin's own cap on the group's size. */
  maxSize: number;
  version: string;
  buildInfo: string;
  capabilities: string[];
}

/** Increase and Decrease may partly succeed: what did, and why the rest did not. */
export interface Partial<T> {
  succeeded: T;
  error?: Error;
}

/** Heartbeat's answer for an instance that must be replaced (fleeting's ErrInstanceUnhealthy). */
export class InstanceUnhealthyError extends Error {
  constructor(
    readonly instanceId: string,
    readonly reason: string,
  ) {
    super(`instance ${instanceId} is unhealthy: ${reason}`);
    this.name = "InstanceUnhealthyError";
  }
}

export interface InstanceGroup {
  /** Validates the plugin config (JSON of [runners.autoscaler.plugin_config]) and connects. */
  init(pluginConfig: unknown, settings: { connectorConfig: ConnectorConfig }): Promise<ProviderInfo>;
  /** Reports every instance of the group with its state; cheap and idempotent. */
  update(report: (id: string, state: ProviderState) => void): Promise<void>;
  /** Asks for `delta` new instances; returns without waiting for them to boot. */
  increase(delta: number): Promise<Partial<number>>;
  /** Deletes exactly these instances, never others. */
  decrease(ids: readonly string[]): Promise<Partial<string[]>>;
  connectInfo(id: string): Promise<ConnectInfo>;
  /** Rejects with InstanceUnhealthyError when the provider knows the instance is bad. */
  heartbeat(id: string): Promise<void>;
  /** Releases what the plugin holds; never deletes instances (that is delete_instances_on_shutdown). */
  shutdown(): Promise<void>;
}
