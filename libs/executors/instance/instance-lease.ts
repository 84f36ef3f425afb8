// One job's hold on an autoscaled instance, shared by the `instance` and `docker-autoscaler`
// executors (GitLab Runner's executors/internal/autoscaler wraps both the same way): acquire a
// slot from the autoscaler tier ("Preparing instance...", up to instance_acquire_timeout), turn
// the plugin's ConnectInfo into an SSH target ("Dialing instance <id>..."), and release the slot
// at cleanup, whatever happened, so the autoscaler stops counting the job as waiting demand.
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bus } from "../../bus/bus.ts";
import type { Logger } from "../../log/logger.ts";
import { ExecutorError, type PrepareContext } from "../executor.ts";
import { acquireInstance, releaseInstance } from "./instance-acquisition.ts";
import { type ConnectorSettings, type InstanceTarget, instanceTarget } from "./instance-target.ts";

export interface InstanceLeaseOptions {
  bus?: Bus;
  /** The runner entry's key (its instance group) and the job's key (the acquisition). */
  groupKey?: string;
  acquisitionKey?: string;
  /** This worker's id: it asks on its own subjects and holds the acquisition. */
  workerId?: string;
  runnerName: string;
  acquireTimeoutMs: number;
  connector?: ConnectorSettings;
  /** Where a plugin's private key is written for the connector to read (0600), then removed. */
  keyDir: string;
  log?: Logger;
  /** Test knob: the acquisition's polling bounds. */
  acquireRetryMs?: { min: number; max: number };
}

export interface LeasedInstance extends InstanceTarget {
  instanceId: string;
}

export class InstanceLease {
  private asked = false;
  private keyFiles: string[] = [];
  instanceId?: string;

  constructor(private readonly o: InstanceLeaseOptions) {}

  /** Waits for a slot and says where to dial it; the job log gets GitLab's lines. */
  async acquire(ctx: Pick<PrepareContext, "log" | "signal">): Promise<LeasedInstance> {
    const { bus, groupKey, acquisitionKey, workerId } = this.o;
    if (!bus || !groupKey || !acquisitionKey || !workerId)
      throw new ExecutorError(
        `runner "${this.o.runnerName}": an autoscaled executor needs the worker's bus, its id and the job's runner entry to ask the autoscaler tier for an instance; this worker was started without them`,
        "runner_configuration_error",
      );
    ctx.log("Preparing instance...");
    this.asked = true;
    let acquired: Awaited<ReturnType<typeof acquireInstance>>;
    try {
      acquired = await acquireInstance({
        bus,
        groupKey,
        key: acquisitionKey,
        workerId,
        timeoutMs: this.o.acquireTimeoutMs,
        signal: ctx.signal,
        runnerName: this.o.runnerName,
        minRetryMs: this.o.acquireRetryMs?.min,
        maxRetryMs: this.o.acquireRetryMs?.max,
      });
    } catch (e) {
      throw new ExecutorError((e as Error).message);
    }
    this.instanceId = acquired.instanceId;
    this.o.log?.info({ instance: acquired.instanceId, key: acquisitionKey }, "acquired an instance");
    let t: InstanceTarget;
    try {
      t = instanceTarget(acquired.connectInfo, this.o.connector, this.o.runnerName);
    } catch (e) {
      throw new ExecutorError((e as Error).message, "runner_configuration_error");
    }
    ctx.log(`Dialing instance ${acquired.instanceId}...`);
    return { ...t, instanceId: acquired.instanceId };
  }

  /** The key in a 0600 file for a connector that reads keys from files; removed by dropKeys(). */
  keyFile(key: string): string {
    mkdirSync(this.o.keyDir, { recursive: true, mode: 0o700 });
    const file = join(this.o.keyDir, `instance-${randomBytes(8).toString("hex")}.key`);
    writeFileSync(file, key.endsWith("\n") ? key : `${key}\n`, { mode: 0o600 });
    this.keyFiles.push(file);
    return file;
  }

  dropKeys(): void {
    for (const f of this.keyFiles) rmSync(f, { force: true });
    this.keyFiles = [];
  }

  /** Gives the slot back (also when none came); never throws. */
  async release(): Promise<void> {
    this.dropKeys();
    if (!this.asked) return;
    this.asked = false;
    const fields = { instance: this.instanceId, key: this.o.acquisitionKey };
    await releaseInstance(this.o.bus!, this.o.groupKey!, this.o.workerId!, this.o.acquisitionKey!).then(
      ({ released, reason }) =>
        reason
          ? this.o.log?.error({ ...fields, reason }, "the autoscaler refused to release the instance")
          : this.o.log?.info({ ...fields, released }, "released the instance"),
      (e: Error) =>
        this.o.log?.error(
          { ...fields, err: e.message },
          "releasing the instance failed; the autoscaler keeps its slot until it restarts",
        ),
    );
  }
}

/** Where the worker writes instance keys and tunnel sockets: under its data dir, else the temp dir. */
export function instanceKeyDir(dataDir: string | undefined): string {
  return join(dataDir ?? tmpdir(), "instance-keys");
}
