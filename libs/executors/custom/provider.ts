// The custom executor's provider (GitLab Runner's executors/custom): the driver decides where
// builds live. builds_dir and cache_dir come from the runner entry unless config_exec moves them
// (CustomExecutor.configure), both as written: they are paths on the driver's side. The builds
// dir is not shared unless config_exec says builds_dir_is_shared, yet the provider reports
// `shared`, as GitLab's does. Concurrency slots are counted on the worker's host.
import { join } from "node:path";
import type { ExecutorProvider, LayoutInput } from "../provider.ts";
import { WORKER_TRANSFER_FEATURES } from "../workspace-transfer.ts";
import { CustomExecutor, type CustomSettings } from "./custom-executor.ts";

export function customProvider(o: { tmpRoot?: string } = {}): ExecutorProvider {
  return {
    name: "custom",
    defaultShell: "bash",
    shells: ["bash", "sh"],
    // GitLab's custom provider: Variables and Shared; cache and artifacts through the driver's
    // run_exec (driver-workspace.ts), the worker archiving and uploading.
    features: {
      variables: true,
      shared: true,
      ...WORKER_TRANSFER_FEATURES,
    },
    layout: (input: LayoutInput) => ({
      // No default: a custom runner without builds_dir relies on config_exec to print one.
      buildsDir: input.buildsDir ?? "",
      cacheDir: input.cacheDir ?? "",
      sharedBuildsDir: false,
      // Local cache archives stay on the worker, which runs the cache stages (driver-workspace.ts).
      localCacheDir: input.workerCacheDir,
      locksDir: join(input.workerBuildsDir, "custom-slots"),
    }),
    create: (ctx) =>
      new CustomExecutor({
        settings: ctx.runner?.custom ?? defaultSettings(),
        runnerName: ctx.runner?.name ?? "",
        tmpRoot: o.tmpRoot,
        log: ctx.log,
      }),
  };
}

/** [runners.custom] with GitLab's defaults, for an entry that has no table (config refuses it). */
function defaultSettings(): CustomSettings {
  return {
    config_exec_timeout: 3600,
    prepare_exec_timeout: 3600,
    cleanup_exec_timeout: 3600,
    graceful_kill_timeout: 600,
    force_kill_timeout: 600,
  };
}
