// The shell executor's provider (GitLab Runner's executors/shell): jobs run on the worker's host,
// in a builds dir shared by every job and runner entry (`$PWD/builds` unless builds_dir says
// otherwise), so project dirs carry the short token and concurrency ids.
import { resolve } from "node:path";
import type { ExecutorProvider, LayoutInput } from "../provider.ts";
import { WORKER_TRANSFER_FEATURES } from "../workspace-transfer.ts";
import { ShellExecutor } from "./shell-executor.ts";

export const shellProvider: ExecutorProvider = {
  name: "shell",
  defaultShell: "bash",
  shells: ["bash", "sh"],
  // GitLab's shell provider sets Shared; everything else it reports comes from the worker.
  // Artifacts and the local cache: the worker runs those stages on this host (libs/job).
  features: {
    shared: true,
    ...WORKER_TRANSFER_FEATURES,
  },
  layout: (input: LayoutInput) => {
    const buildsDir = resolveHostDir(input.buildsDir ?? input.workerBuildsDir);
    return {
      buildsDir,
      cacheDir: resolveHostDir(input.cacheDir ?? input.workerCacheDir),
      sharedBuildsDir: true,
      locksDir: buildsDir,
    };
  },
  create: (ctx) => new ShellExecutor({ user: ctx.worker.user }),
};

/** `$PWD` in builds_dir/cache_dir means the worker's working directory, as in GitLab's shell executor. */
export function resolveHostDir(dir: string): string {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell variable, not a template
  return resolve(dir.replaceAll("${PWD}", process.cwd()).replaceAll("$PWD", process.cwd()));
}
