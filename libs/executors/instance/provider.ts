// The instance executor's provider (GitLab Runner's `instance` executor): jobs run over SSH on an
// instance the autoscaler tier acquires for them, in a builds dir shared by the jobs on that
// instance (`builds` under the login directory, as GitLab's DefaultBuildsDir "builds"; project
// dirs carry the short token and concurrency ids). The login user is the connector_config
// username (default root) for the layout; the plugin's ConnectInfo names the one actually used.
// Features and shells are the ssh executor's: the stages run through it.
import { join } from "node:path";
import { durationMs } from "../../config/schema-primitives.ts";
import type { CreateContext, ExecutorProvider, LayoutInput } from "../provider.ts";
import { remoteDir, remoteHome, sshProvider } from "../ssh/provider.ts";
import { InstanceExecutor } from "./instance-executor.ts";
import { type InstanceLeaseOptions, instanceKeyDir } from "./instance-lease.ts";

export interface InstanceProviderOptions {
  gracefulKillTimeoutMs?: number;
  forceKillTimeoutMs?: number;
  acquireRetryMs?: { min: number; max: number };
}

/** GitLab Runner's default instance_acquire_timeout. */
const DEFAULT_ACQUIRE_TIMEOUT_MS = 15 * 60_000;

/** How a job of this runner entry takes its instance (both autoscaled executors). */
export function instanceLeaseOptions(
  ctx: CreateContext,
  o: { acquireRetryMs?: { min: number; max: number } } = {},
): InstanceLeaseOptions {
  const a = ctx.runner?.autoscaler;
  return {
    bus: ctx.worker.bus,
    groupKey: ctx.job?.runnerKey,
    acquisitionKey: ctx.job?.key,
    workerId: ctx.worker.workerId,
    runnerName: ctx.runner?.name ?? "",
    acquireTimeoutMs: a?.instance_acquire_timeout
      ? durationMs(a.instance_acquire_timeout)
      : DEFAULT_ACQUIRE_TIMEOUT_MS,
    connector: a?.connector_config,
    keyDir: instanceKeyDir(ctx.worker.dataDir),
    log: ctx.log,
    acquireRetryMs: o.acquireRetryMs,
  };
}

export function instanceProvider(o: InstanceProviderOptions = {}): ExecutorProvider {
  const ssh = sshProvider();
  return {
    name: "instance",
    defaultShell: ssh.defaultShell,
    shells: ssh.shells,
    features: ssh.features,
    layout: (input: LayoutInput) => {
      const home = remoteHome(input.runner?.autoscaler?.connector_config?.username || "root");
      return {
        buildsDir: remoteDir(input.buildsDir || "builds", home),
        cacheDir: remoteDir(input.cacheDir || "cache", home),
        sharedBuildsDir: true,
        localCacheDir: input.workerCacheDir,
        // Slots (CI_CONCURRENT_ID) are counted on the worker's host, per runner entry.
        locksDir: join(input.workerBuildsDir, "instance-slots", input.runner?.short_token || "runner"),
      };
    },
    create: (ctx) =>
      new InstanceExecutor({
        ...instanceLeaseOptions(ctx, o),
        gracefulKillTimeoutMs: o.gracefulKillTimeoutMs,
        forceKillTimeoutMs: o.forceKillTimeoutMs,
      }),
  };
}
