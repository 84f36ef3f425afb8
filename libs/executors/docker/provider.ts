// The docker executor's provider (GitLab Runner's executors/docker): builds live in a volume of
// the job's own under /builds (not shared between jobs), caches under /cache. dockerode is
// loaded only once a docker job arrives (engine.ts). Crash leftovers: every engine this worker
// used is remembered under its data dir, and on start (recover) and on the first job per engine
// in a process, containers and volumes labelled with this worker's id are removed.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type {
  ExecutorProvider,
  LayoutInput,
  RunnerEntrySettings,
  WorkerExecutorOptions,
} from "../provider.ts";
import { WORKER_TRANSFER_FEATURES } from "../workspace-transfer.ts";
import type { DockerSettings } from "./container-spec.ts";
import { DockerExecutor, removeLabelled } from "./docker-executor.ts";
import { connectEngine, type Engine, type EngineAddress } from "./engine.ts";

const HOSTS_FILE = "docker-hosts.json";

/** A docker provider; `engine` replaces the connection (tests that count engine calls). */
export function dockerProvider(o: { gracefulKillTimeoutMs?: number } = {}): ExecutorProvider {
  const swept = new Map<string, Promise<void>>();

  /** Once per engine and process, before its first job: this worker's leftovers go. */
  const sweepOnce = (address: EngineAddress, worker: WorkerExecutorOptions): Promise<void> => {
    const key = engineKey(address);
    let done = swept.get(key);
    if (!done) {
      done = (async () => {
        if (worker.dataDir) await rememberHost(worker.dataDir, address);
        if (worker.workerId) await sweep(await connectEngine(address), worker.workerId);
      })();
      swept.set(key, done);
    }
    return done;
  };

  return {
    name: "docker",
    defaultShell: "bash",
    shells: ["bash", "sh"],
    // GitLab's docker provider: image, services and their options; variables and native steps.
    features: {
      image: true,
      services: true,
      variables: true,
      service_variables: true,
      service_multiple_aliases: true,
      image_executor_opts: true,
      service_executor_opts: true,
      // Cache and artifacts: the worker runs those stages through the sandbox (docker-workspace.ts).
      ...WORKER_TRANSFER_FEATURES,
    },
    layout: (input: LayoutInput) => ({
      buildsDir: input.buildsDir || "/builds",
      cacheDir: "/cache",
      sharedBuildsDir: false,
      // Local cache archives stay on the worker: the cache stages run there (docker-workspace.ts).
      localCacheDir: input.workerCacheDir,
      // Slots (CI_CONCURRENT_ID) are counted on the worker's host.
      locksDir: join(input.workerBuildsDir, "docker-slots"),
    }),
    create: (ctx) => {
      const runner: RunnerEntrySettings = ctx.runner ?? {};
      const settings = runner.docker ?? (defaultSettings() as DockerSettings);
      const workerId = ctx.worker.workerId ?? "runmesh";
      const executor = new DockerExecutor({
        settings,
        runnerName: runner.name ?? "",
        shortToken: runner.short_token ?? "",
        workerId,
        gracefulKillTimeoutMs: o.gracefulKillTimeoutMs,
        engine: async () => {
          await sweepOnce(settings, ctx.worker).catch(() => {});
          return connectEngine(settings);
        },
      });
      return executor;
    },
    recover: async (worker) => {
      if (!worker.dataDir || !worker.workerId) return [];
      const removed: string[] = [];
      for (const address of await knownHosts(worker.dataDir)) {
        try {
          removed.push(...(await sweep(await connectEngine(address), worker.workerId)));
          swept.set(engineKey(address), Promise.resolve());
        } catch {
          // An engine that is gone has nothing of ours to remove; the next job's sweep retries.
        }
      }
      return removed;
    },
  };
}

/** This worker's containers and job volumes on `engine` (cache volumes stay). */
export function sweep(engine: Engine, workerId: string): Promise<string[]> {
  return removeLabelled(engine, [`runmesh.worker=${workerId}`]);
}

function engineKey(a: EngineAddress): string {
  return JSON.stringify([
    a.host ?? process.env.DOCKER_HOST ?? "",
    a.tls_cert_path ?? "",
    a.tls_verify ?? false,
  ]);
}

async function knownHosts(dataDir: string): Promise<EngineAddress[]> {
  try {
    return JSON.parse(await readFile(join(dataDir, HOSTS_FILE), "utf8")) as EngineAddress[];
  } catch {
    return [];
  }
}

async function rememberHost(dataDir: string, a: EngineAddress): Promise<void> {
  const hosts = await knownHosts(dataDir);
  const entry = {
    host: a.host ?? process.env.DOCKER_HOST,
    tls_cert_path: a.tls_cert_path,
    tls_verify: a.tls_verify,
  };
  if (hosts.some((h) => engineKey(h) === engineKey(entry))) return;
  await mkdir(dataDir, { recursive: true });
  const tmp = join(dataDir, `${HOSTS_FILE}.${process.pid}`);
  await writeFile(tmp, JSON.stringify([...hosts, entry]));
  await rename(tmp, join(dataDir, HOSTS_FILE));
}

/** [runners.docker] with GitLab's defaults, for an entry that has no table (config refuses it). */
function defaultSettings(): Partial<DockerSettings> {
  return {
    privileged: false,
    disable_entrypoint_overwrite: false,
    oom_kill_disable: false,
    disable_cache: false,
    wait_for_services_timeout: 30,
    pull_policy: ["always"],
    services_limit: -1,
  };
}
