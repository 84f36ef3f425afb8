// An executor provider: what a worker knows about one executor before, around and after a job,
// after GitLab Runner's common/executor.go (ExecutorProvider: CanCreate, GetDefaultShell,
// GetFeatures, Acquire/Release, Create) and executors/abstract.go (the executor decides where
// builds and caches live, and whether a builds dir is shared between jobs). A worker holds a
// registry of providers (registry.ts); adding an executor is a folder with its provider in it,
// plus one line in the registry's built-in list.
import type { z } from "zod";
import type { Bus } from "../bus/bus.ts";
import type { autoscalerSettingsSchema } from "../config/autoscaler-section.ts";
import type { customSchema, dockerSchema, sshSchema } from "../config/executor-sections.ts";
import type { FeatureKey } from "../gitlab/runner-info.ts";
import type { Logger } from "../log/logger.ts";
import type { Executor, JobShell } from "./executor.ts";

/** Where one job's builds and caches live, as the executor decides (abstract.go RootDir/CacheDir). */
export interface BuildsLayout {
  /** The builds root, absolute, on the executor's side. */
  buildsDir: string;
  cacheDir: string;
  /**
   * true when several jobs (and runner entries) share the builds dir, so project dirs carry the
   * short token and concurrency id (`<builds>/<token>/<n>/<path>`): shell and ssh executors.
   */
  sharedBuildsDir: boolean;
  /**
   * A directory on the worker's host for the job's concurrency-slot locks (CI_CONCURRENT_ID):
   * the builds dir itself when it is on the host (so workers sharing it share the slots).
   */
  locksDir: string;
  /**
   * Where the worker keeps the local cache archives (`<dir>/<project>/<key>/cache.zip`) when
   * `cacheDir` is on the executor's side (docker, ssh): the cache stages run in the worker
   * (workspace-transfer.ts). Absent: `cacheDir`, which is on the worker's host (shell).
   */
  localCacheDir?: string;
}

export interface LayoutInput {
  /** `builds_dir` / `cache_dir` of the runner entry, when set. */
  buildsDir?: string;
  cacheDir?: string;
  /** The worker's defaults ([mesh] builds_dir, or under its data dir). */
  workerBuildsDir: string;
  workerCacheDir: string;
  /** The runner entry, for executors whose layout depends on it (ssh: the login user's home). */
  runner?: RunnerEntrySettings;
}

/** An instance an executor acquired for one job (autoscaled VM, pooled container host…). */
export interface ExecutorInstance {
  /** Names the instance in logs and job lines. */
  readonly id: string;
  /** Provider-specific connection data (address, credentials handle). */
  readonly data?: unknown;
}

/** Worker-wide options an executor may use; each provider reads only what concerns it. */
export interface WorkerExecutorOptions {
  /** `run --user`: the OS user that runs job scripts (the shell executor's option). */
  user?: string;
  /** Names this worker's objects on shared engines (the docker executor labels them with it). */
  workerId?: string;
  /** The worker's data dir: executors keep what must survive a restart under it. */
  dataDir?: string;
  /** The worker's bus: the instance executors ask the autoscaler tier for an instance over it. */
  bus?: Bus;
}

export interface CreateContext {
  worker: WorkerExecutorOptions;
  /** What `acquire` returned for this job, for executors that need an instance. */
  instance?: ExecutorInstance;
  /** The job's runner entry (never its token): container executors read their table from it. */
  runner?: RunnerEntrySettings;
  /** The runner's log for this job (its id and runner on every line), not the job log. */
  log?: Logger;
  /** The job's mesh key and its runner entry's key (the autoscaler's acquisition and group keys). */
  job?: { key: string; runnerKey: string };
}

/** What an executor may read of its runner entry: its name, short token and executor tables. */
export interface RunnerEntrySettings {
  name?: string;
  short_token?: string;
  /** As written in config.toml (the ssh executor resolves them on its host). */
  builds_dir?: string;
  cache_dir?: string;
  docker?: z.output<typeof dockerSchema>;
  ssh?: z.output<typeof sshSchema>;
  custom?: z.output<typeof customSchema>;
  /** [runners.autoscaler] without plugin_config (the instance executors). */
  autoscaler?: z.output<typeof autoscalerSettingsSchema>;
}

export interface AcquireContext {
  jobId: number;
  runnerName: string;
  signal: AbortSignal;
}

export interface ExecutorProvider {
  /** The `executor` value of a [[runners]] entry this provider serves ("shell", "docker", …). */
  readonly name: string;
  /** The shell used when the runner entry sets none (GetDefaultShell). */
  readonly defaultShell: JobShell;
  /** Every shell this executor can run job scripts in. */
  readonly shells: readonly JobShell[];
  /** `info.features` this executor turns on (GetFeatures), on top of the worker's common ones. */
  readonly features: Readonly<Partial<Record<FeatureKey, boolean>>>;
  /** Where builds and caches live for a job of this runner entry. */
  layout(input: LayoutInput): BuildsLayout;
  /** A fresh executor for one job (Create). */
  create(ctx: CreateContext): Executor;
  /**
   * Takes an instance for one job before it runs (Acquire), e.g. from the autoscaler; `release`
   * gives it back after the job, whatever its end. Absent for executors that need no instance.
   */
  acquire?(ctx: AcquireContext): Promise<ExecutorInstance>;
  release?(instance: ExecutorInstance): Promise<void>;
  /**
   * Once when the worker starts: removes what a previous run of this worker left behind (a
   * crash), e.g. containers labelled with its id. Absent for executors that leave nothing.
   */
  recover?(worker: WorkerExecutorOptions): Promise<string[]>;
}
