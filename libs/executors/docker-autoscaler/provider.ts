// The docker-autoscaler executor's provider (GitLab Runner's `docker-autoscaler`): the docker
// executor's layout, shells and features ([runners.docker] as for `docker`), its engine on an
// instance the autoscaler tier acquires for the job. [runners.docker] host names the engine's
// address on the instance (default unix:///var/run/docker.sock), reached over SSH.
import type { DockerSettings } from "../docker/container-spec.ts";
import { dockerProvider } from "../docker/provider.ts";
import { instanceLeaseOptions } from "../instance/provider.ts";
import type { ExecutorProvider } from "../provider.ts";
import { DockerAutoscalerExecutor } from "./docker-autoscaler-executor.ts";

export function dockerAutoscalerProvider(
  o: { gracefulKillTimeoutMs?: number; acquireRetryMs?: { min: number; max: number } } = {},
): ExecutorProvider {
  const docker = dockerProvider();
  return {
    name: "docker-autoscaler",
    defaultShell: docker.defaultShell,
    shells: docker.shells,
    features: docker.features,
    layout: docker.layout,
    create: (ctx) => {
      const runner = ctx.runner ?? {};
      return new DockerAutoscalerExecutor({
        ...instanceLeaseOptions(ctx, o),
        settings: runner.docker as DockerSettings | undefined,
        shortToken: runner.short_token ?? "",
        workerId: ctx.worker.workerId ?? "runmesh",
        gracefulKillTimeoutMs: o.gracefulKillTimeoutMs,
      });
    },
  };
}
