// The stage a job is in, for gitlab_runner_jobs{stage,executor_stage} and /debug/jobs/list:
// seen from outside the stage machine, at the executor seam it calls for each stage (GitLab
// Runner's build stage names: prepare_executor, get_sources, step_script, after_script, …).
// executor_stage follows GitLab Runner's abstract executor: `prepare` while preparing, then
// `<executor>_run` while a stage runs (its docker executor's `docker_run`), `cleanup` at the end.
import type { Executor } from "../executors/executor.ts";
import type { ExecutorRegistry } from "../executors/registry.ts";

export type StageObserver = (stage: string, executorStage: string) => void;

function passThrough<T extends object>(target: T, overrides: Partial<Record<PropertyKey, unknown>>): T {
  return new Proxy(target, {
    get(t, prop, receiver) {
      if (Object.hasOwn(overrides, prop)) return overrides[prop];
      const v = Reflect.get(t, prop, receiver);
      return typeof v === "function" ? v.bind(t) : v;
    },
  });
}

export function observeExecutor(executor: Executor, on: StageObserver): Executor {
  let stage = "prepare_executor";
  on(stage, "created");
  return passThrough(executor, {
    prepare: (ctx: Parameters<Executor["prepare"]>[0]) => {
      on(stage, "prepare");
      return executor.prepare(ctx);
    },
    run: (...[s, io, signal]: Parameters<Executor["run"]>) => {
      stage = s.stage;
      on(stage, `${executor.name}_run`);
      return executor.run(s, io, signal);
    },
    cleanup: () => {
      on(stage, "cleanup");
      return executor.cleanup();
    },
  });
}

/** The same registry; every executor its providers create reports its stages to `on`. */
export function observeStages(registry: ExecutorRegistry, on: StageObserver): ExecutorRegistry {
  return passThrough(registry, {
    get: (name: string) => {
      const provider = registry.get(name);
      return (
        provider &&
        passThrough(provider, {
          create: (ctx: Parameters<typeof provider.create>[0]) => observeExecutor(provider.create(ctx), on),
        })
      );
    },
  });
}
