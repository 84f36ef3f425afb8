// The docker-autoscaler executor (GitLab Runner's executors/docker/autoscaler): the docker
// executor, unchanged, with its Engine API on an autoscaled instance. Prepare takes a slot on an
// instance from the autoscaler tier (../instance/instance-lease.ts), opens an SSH tunnel to the
// instance's engine socket (docker-tunnel.ts) and prepares the docker executor against it; the
// job's containers then run on the instance. Cleanup removes them (the docker executor's own
// cleanup, through the tunnel), closes the tunnel and gives the slot back.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { DockerSettings } from "../docker/container-spec.ts";
import { DockerExecutor } from "../docker/docker-executor.ts";
import { connectEngine } from "../docker/engine.ts";
import type { Executor, PrepareContext, StageIO, StageRun } from "../executor.ts";
import { ExecutorError } from "../executor.ts";
import { InstanceLease, type InstanceLeaseOptions } from "../instance/instance-lease.ts";
import type { WorkspaceTransfer } from "../workspace-transfer.ts";
import { type DockerTunnel, openDockerTunnel, remoteEngine } from "./docker-tunnel.ts";

export interface DockerAutoscalerExecutorOptions extends InstanceLeaseOptions {
  /** [runners.docker]; absent: prepare fails, as the docker executor refuses an entry without it. */
  settings?: DockerSettings;
  shortToken: string;
  workerId: string;
  gracefulKillTimeoutMs?: number;
}

export class DockerAutoscalerExecutor implements Executor {
  readonly name = "docker-autoscaler";
  private readonly lease: InstanceLease;
  private tunnel?: DockerTunnel;
  private inner?: DockerExecutor;

  constructor(private readonly o: DockerAutoscalerExecutorOptions) {
    this.lease = new InstanceLease(o);
  }

  async prepare(ctx: PrepareContext): Promise<void> {
    const settings = this.o.settings;
    if (!settings)
      throw new ExecutorError(
        `runner "${this.o.runnerName}": executor "docker-autoscaler" needs a [runners.docker] table (the job's default image, the engine's address on the instance)`,
        "runner_configuration_error",
      );
    const t = await this.lease.acquire(ctx);
    let privateKey = t.key;
    try {
      if (!privateKey && t.keyPath) privateKey = readFileSync(t.keyPath, "utf8");
      this.tunnel = await openDockerTunnel({
        target: t.target,
        privateKey,
        remote: remoteEngine(settings.host),
        dir: this.o.keyDir,
        name: `docker-${randomBytes(6).toString("hex")}`,
      });
    } catch (e) {
      throw new ExecutorError(
        `runner "${this.o.runnerName}": instance ${t.instanceId}: reaching its Docker engine over SSH: ${(e as Error).message}`,
      );
    }
    ctx.log(`Instance ${t.instanceId} connected`);
    const host = this.tunnel.host;
    this.inner = new DockerExecutor({
      settings: { ...settings, host },
      runnerName: this.o.runnerName,
      shortToken: this.o.shortToken,
      workerId: this.o.workerId,
      gracefulKillTimeoutMs: this.o.gracefulKillTimeoutMs,
      engine: () => connectEngine({ host }),
    });
    await this.inner.prepare(ctx);
  }

  run(stage: StageRun, io: StageIO, signal: AbortSignal) {
    if (!this.inner)
      throw new ExecutorError(
        `runner "${this.o.runnerName}": stage ${stage.stage} before an instance was dialled`,
      );
    return this.inner.run(stage, io, signal);
  }

  workspace(projectDir: string): WorkspaceTransfer {
    if (!this.inner)
      throw new ExecutorError(
        `runner "${this.o.runnerName}": workspace transfer before an instance was dialled`,
      );
    return this.inner.workspace(projectDir);
  }

  async cleanup(): Promise<void> {
    await this.inner?.cleanup().catch(() => {});
    this.inner = undefined;
    await this.tunnel?.close().catch(() => {});
    this.tunnel = undefined;
    await this.lease.release();
  }
}
