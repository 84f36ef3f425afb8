// One GitLab client per (runner, URL, TLS files): clients keep connections and TLS material, so the
// scheduler and workers reuse them across jobs of the same GitLab instance.

import { RUNMESH_REVISION, RUNMESH_VERSION } from "../build-info/version.ts";
import { advertisedFeatures } from "../gitlab/advertised-features.ts";
import { GitLabClient } from "../gitlab/client.ts";
import { buildRunnerInfo, type RunnerInfo } from "../gitlab/runner-info.ts";
import type { Logger } from "../log/logger.ts";
import type { AcceptedJob } from "../messages/subjects.ts";
import { builtinExecutors, type ExecutorRegistry } from "./registry.ts";

export function gitlabClients(
  logger: Logger,
): (job: Pick<AcceptedJob, "gitlabUrl" | "tls" | "runnerName">) => GitLabClient {
  const cache = new Map<string, GitLabClient>();
  return (job) => {
    const key = JSON.stringify([
      job.runnerName,
      job.gitlabUrl,
      job.tls.caFile,
      job.tls.certFile,
      job.tls.keyFile,
    ]);
    let c = cache.get(key);
    if (!c) {
      c = new GitLabClient({
        url: job.gitlabUrl,
        version: RUNMESH_VERSION,
        revision: RUNMESH_REVISION,
        tls: job.tls,
        logger,
        runner: job.runnerName,
      });
      cache.set(key, c);
    }
    return c;
  };
}

const EXECUTORS = builtinExecutors();

/**
 * The `info` object sent with every request for a runner entry (features always included): the
 * mesh's common features, plus what the entry's executor adds (GitLab's GetFeatures).
 */
export function runnerInfoFor(
  settings: { executor?: unknown; shell?: unknown },
  executors: ExecutorRegistry = EXECUTORS,
): RunnerInfo {
  const executor = typeof settings.executor === "string" ? settings.executor : "shell";
  const provider = executors.get(executor);
  const shell =
    typeof settings.shell === "string" && settings.shell
      ? settings.shell
      : (provider?.defaultShell ?? "bash");
  return buildRunnerInfo({
    version: RUNMESH_VERSION,
    revision: RUNMESH_REVISION,
    executor,
    shell,
    features: { ...advertisedFeatures(), ...provider?.features },
  });
}
