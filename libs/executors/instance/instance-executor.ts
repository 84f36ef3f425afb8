// The instance executor (GitLab Runner's executors/instance over executors/internal/autoscaler):
// prepare takes a slot on an instance of the runner entry's group from the autoscaler tier
// (instance-lease.ts), dials it over SSH and from there runs every stage exactly as the ssh
// executor does: the ssh executor itself, given the instance as its target and a connector of
// this job's own (GitLab closes the instance's client at cleanup). Cleanup gives the slot back;
// use counts and max_use_count retirement are the autoscaler's business.
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
import { InstanceLease, type InstanceLeaseOptions } from "./instance-lease.ts";

export interface InstanceExecutorOptions extends InstanceLeaseOptions {
  gracefulKillTimeoutMs?: number;
  forceKillTimeoutMs?: number;
}

export class InstanceExecutor implements Executor {
  readonly name = "instance";
  private readonly connector = new SshConnector();
  private readonly lease: InstanceLease;
  private inner?: Executor;

  constructor(private readonly o: InstanceExecutorOptions) {
    this.lease = new InstanceLease(o);
  }

  async prepare(ctx: PrepareContext): Promise<void> {
    const t = await this.lease.acquire(ctx);
    try {
      this.inner = new SshExecutor({
        connector: this.connector,
        target: { ...t.target, identityFile: t.key ? this.lease.keyFile(t.key) : t.keyPath },
        runnerName: this.o.runnerName,
        gracefulKillTimeoutMs: this.o.gracefulKillTimeoutMs,
        forceKillTimeoutMs: this.o.forceKillTimeoutMs,
      });
      // The ssh executor's own banner is not this executor's.
      await this.inner.prepare({ ...ctx, log: (l) => l.startsWith("Using SSH executor") || ctx.log(l) });
    } finally {
      // The connector read it while dialling; the connection outlives the file.
      this.lease.dropKeys();
    }
    ctx.log(`Instance ${t.instanceId} connected`);
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
        `runner "${this.o.runnerName}": instance ${this.lease.instanceId ?? "(none)"}: workspace transfer before an instance was dialled`,
      );
    return w;
  }

  async cleanup(): Promise<void> {
    await this.inner?.cleanup().catch(() => {});
    this.inner = undefined;
    await this.connector.close();
    await this.lease.release();
  }
}
