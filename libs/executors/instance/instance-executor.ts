// The instance executor (GitLab Runner's executors/instance over executors/internal/autoscaler):
// prepare asks the autoscaler tier for a slot on an instance of the runner entry's group
// ("Preparing instance...", waiting up to instance_acquire_timeout), dials the instance over SSH
// ("Dialing instance <id>...") and from there runs every stage exactly as the ssh executor does:
// the ssh executor itself, given the instance as its target and a connector of this job's own
// (GitLab closes the instance's client at cleanup). Cleanup gives the slot back; use counts and
// max_use_count retirement are the autoscaler's business.
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bus } from "../../bus/bus.ts";
import type { Logger } from "../../log/logger.ts";
import { SshConnector } from "../../ssh/connector.ts";
import {
  type Executor,
  ExecutorError,
  type PrepareContext,
  type StageIO,
  type StageRun,
} from "../executor.ts";
import { SshExecutor } from "../ssh/ssh-executor.ts";
import type { WorkspaceTransfer } from "../workspace-transfer.ts";
import { acquireInstance, releaseInstance } from "./instance-acquisition.ts";
import { type ConnectorSettings, instanceTarget } from "./instance-target.ts";

export interface InstanceExecutorOptions {
  bus?: Bus;
  /** The runner entry's key (its instance group) and the job's key (the acquisition). */
  groupKey?: string;
  acquisitionKey?: string;
  runnerName: string;
  acquireTimeoutMs: number;
  connector?: ConnectorSettings;
  /** Where a plugin's private key is written for the connector to read (mode 0600), then removed. */
  keyDir: string;
  log?: Logger;
  /** GitLab's executor name in the job log (`instance`, `docker-autoscaler`). */
  name?: string;
  gracefulKillTimeoutMs?: number;
  forceKillTimeoutMs?: number;
  /** Test knob: the acquisition's polling bounds. */
  acquireRetryMs?: { min: number; max: number };
}

export class InstanceExecutor implements Executor {
  readonly name: string;
  private readonly connector = new SshConnector();
  private inner?: Executor;
  private acquiring = false;
  private instanceId?: string;

  constructor(private readonly o: InstanceExecutorOptions) {
    this.name = o.name ?? "instance";
  }

  /** The acquired instance, once prepare got one (tests, logs). */
  get instance(): string | undefined {
    return this.instanceId;
  }

  async prepare(ctx: PrepareContext): Promise<void> {
    const { bus, groupKey, acquisitionKey } = this.o;
    if (!bus || !groupKey || !acquisitionKey)
      throw new ExecutorError(
        `runner "${this.o.runnerName}": the instance executor needs the worker's bus and the job's runner entry to ask the autoscaler tier for an instance; this worker was started without them`,
        "runner_configuration_error",
      );
    ctx.log("Preparing instance...");
    this.acquiring = true;
    let acquired: Awaited<ReturnType<typeof acquireInstance>>;
    try {
      acquired = await acquireInstance({
        bus,
        groupKey,
        key: acquisitionKey,
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
    let t: ReturnType<typeof instanceTarget>;
    try {
      t = instanceTarget(acquired.connectInfo, this.o.connector, this.o.runnerName);
    } catch (e) {
      throw new ExecutorError((e as Error).message, "runner_configuration_error");
    }
    ctx.log(`Dialing instance ${acquired.instanceId}...`);
    const keyFile = t.key ? this.writeKey(t.key) : undefined;
    try {
      this.inner = new SshExecutor({
        connector: this.connector,
        target: { ...t.target, identityFile: keyFile ?? t.keyPath },
        runnerName: this.o.runnerName,
        gracefulKillTimeoutMs: this.o.gracefulKillTimeoutMs,
        forceKillTimeoutMs: this.o.forceKillTimeoutMs,
      });
      // The ssh executor's own banner is not this executor's.
      await this.inner.prepare({ ...ctx, log: (l) => l.startsWith("Using SSH executor") || ctx.log(l) });
    } finally {
      // The connector read it while dialling; the connection outlives the file.
      if (keyFile) rmSync(keyFile, { force: true });
    }
    ctx.log(`Instance ${acquired.instanceId} connected`);
  }

  private writeKey(key: string): string {
    mkdirSync(this.o.keyDir, { recursive: true, mode: 0o700 });
    const file = join(this.o.keyDir, `instance-${randomBytes(8).toString("hex")}.key`);
    writeFileSync(file, key.endsWith("\n") ? key : `${key}\n`, { mode: 0o600 });
    return file;
  }

  run(stage: StageRun, io: StageIO, signal: AbortSignal) {
    if (!this.inner)
      throw new ExecutorError(
        `runner "${this.o.runnerName}": stage ${stage.stage} before an instance was dialled`,
      );
    return this.inner.run(stage, io, signal);
  }

  workspace(projectDir: string): WorkspaceTransfer {
    const w = this.inner?.workspace?.(projectDir);
    if (!w)
      throw new ExecutorError(
        `runner "${this.o.runnerName}": instance ${this.instanceId ?? "(none)"}: workspace transfer before an instance was dialled`,
      );
    return w;
  }

  async cleanup(): Promise<void> {
    await this.inner?.cleanup().catch(() => {});
    this.inner = undefined;
    await this.connector.close();
    if (!this.acquiring) return;
    this.acquiring = false;
    // Given back whatever happened, also when no slot came: the autoscaler stops counting the job as waiting.
    await releaseInstance(this.o.bus!, this.o.groupKey!, this.o.acquisitionKey!).then(
      (released) =>
        this.o.log?.info(
          { instance: this.instanceId, key: this.o.acquisitionKey, released },
          "released the instance",
        ),
      (e: Error) =>
        this.o.log?.error(
          { instance: this.instanceId, key: this.o.acquisitionKey, err: e.message },
          "releasing the instance failed; the autoscaler keeps its slot until it restarts",
        ),
    );
  }
}

/** Where the worker writes instance keys: under its data dir, else the system temp dir. */
export function instanceKeyDir(dataDir: string | undefined): string {
  return join(dataDir ?? tmpdir(), "instance-keys");
}
