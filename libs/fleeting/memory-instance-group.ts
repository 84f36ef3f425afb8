// An instance group in memory, with fleeting's semantics (creating → running after a delay,
// deleting → gone after a delay, partial Increase, a MaxSize) and knobs for what real clouds do
// to us (an instance deleted behind our back, a create that times out, a failed heartbeat). The
// autoscaler's tests and `simulate` run against it; part 2 puts real plugins behind the same
// interface. Time comes from the caller, so replays are exact.
import {
  type ConnectInfo,
  type ConnectorConfig,
  type InstanceGroup,
  InstanceUnhealthyError,
  type Partial,
  type ProviderInfo,
  type ProviderState,
} from "./instance-group.ts";

export interface MemoryGroupOptions {
  id?: string;
  /** ProviderInfo.MaxSize (default: unlimited). */
  maxSize?: number;
  createDelayMs?: number;
  deleteDelayMs?: number;
  /** Clock (epoch ms); default Date.now. */
  now?: () => number;
  /** Prefix of instance ids, so two groups in one test never share one. */
  idPrefix?: string;
}

interface MemoryInstance {
  id: string;
  state: ProviderState;
  since: number;
  unhealthy?: string;
}

export class MemoryInstanceGroup implements InstanceGroup {
  private readonly instances = new Map<string, MemoryInstance>();
  private next = 0;
  private connector: ConnectorConfig = {};
  /** Calls made, in order, for tests that check what the autoscaler asked for. */
  readonly calls: { op: "increase" | "decrease"; arg: number | string[] }[] = [];
  private readonly now: () => number;

  constructor(private readonly opts: MemoryGroupOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  async init(_config: unknown, settings: { connectorConfig: ConnectorConfig }): Promise<ProviderInfo> {
    this.connector = settings.connectorConfig;
    return {
      id: this.opts.id ?? "memory/test",
      maxSize: this.opts.maxSize ?? Number.MAX_SAFE_INTEGER,
      version: "0.0.0",
      buildInfo: "in-memory",
      capabilities: [],
    };
  }

  async update(report: (id: string, state: ProviderState) => void): Promise<void> {
    const now = this.now();
    for (const i of [...this.instances.values()]) {
      if (i.state === "creating" && now - i.since >= (this.opts.createDelayMs ?? 0)) {
        Object.assign(i, { state: "running", since: now });
      } else if (i.state === "deleting" && now - i.since >= (this.opts.deleteDelayMs ?? 0)) {
        this.instances.delete(i.id);
        continue;
      }
      report(i.id, i.state);
    }
  }

  async increase(delta: number): Promise<Partial<number>> {
    this.calls.push({ op: "increase", arg: delta });
    const room = (this.opts.maxSize ?? Number.MAX_SAFE_INTEGER) - this.instances.size;
    const n = Math.max(0, Math.min(delta, room));
    for (let k = 0; k < n; k++) {
      const id = `${this.opts.idPrefix ?? "m"}-${this.next++}`;
      this.instances.set(id, { id, state: "creating", since: this.now() });
    }
    return n < delta
      ? { succeeded: n, error: new Error(`max size ${this.opts.maxSize} reached`) }
      : { succeeded: n };
  }

  async decrease(ids: readonly string[]): Promise<Partial<string[]>> {
    this.calls.push({ op: "decrease", arg: [...ids] });
    const done: string[] = [];
    const unknown: string[] = [];
    for (const id of ids) {
      const i = this.instances.get(id);
      if (!i) unknown.push(id);
      else {
        if (i.state !== "deleting") Object.assign(i, { state: "deleting", since: this.now() });
        done.push(id);
      }
    }
    return unknown.length
      ? { succeeded: done, error: new Error(`no such instances: ${unknown.join(", ")}`) }
      : { succeeded: done };
  }

  async connectInfo(id: string): Promise<ConnectInfo> {
    if (!this.instances.has(id))
      throw new Error(`connect info of instance ${id}: no such instance in the group`);
    return { ...this.connector, id, internalAddr: "127.0.0.1", externalAddr: "127.0.0.1" };
  }

  async heartbeat(id: string): Promise<void> {
    const i = this.instances.get(id);
    if (!i) throw new InstanceUnhealthyError(id, "gone from the group");
    if (i.unhealthy) throw new InstanceUnhealthyError(id, i.unhealthy);
  }

  async shutdown(): Promise<void> {}

  // Knobs: what a cloud does without being asked.

  /** The instance disappears (deleted by someone else). */
  drop(id: string): void {
    this.instances.delete(id);
  }

  /** The instance's creation timed out (Proxmox's `timeout` state). */
  timeOut(id: string): void {
    const i = this.instances.get(id);
    if (i) i.state = "timeout";
  }

  markUnhealthy(id: string, why: string): void {
    const i = this.instances.get(id);
    if (i) i.unhealthy = why;
  }

  /** Instances the cloud holds now (any state), for assertions. */
  list(): { id: string; state: ProviderState }[] {
    return [...this.instances.values()].map((i) => ({ id: i.id, state: i.state }));
  }
}
