import { expect, test } from "bun:test";
import type { Executor, StageRun } from "../executors/executor.ts";
import { ExecutorRegistry } from "../executors/registry.ts";
import { observeStages } from "./executor-stages.ts";

function recordingExecutor(): Executor {
  return {
    name: "shell",
    prepare: async () => {},
    run: async () => ({ exitCode: 0, aborted: false }),
    cleanup: async () => {},
  };
}

test("a job's executor reports GitLab's build stage and executor stage at each step, through the registry", async () => {
  const seen: string[] = [];
  const base = new ExecutorRegistry([
    {
      name: "shell",
      defaultShell: "bash",
      create: () => recordingExecutor(),
    } as unknown as ConstructorParameters<typeof ExecutorRegistry>[0][number],
  ]);
  const registry = observeStages(base, (stage, executorStage) => seen.push(`${stage}/${executorStage}`));
  expect(registry.names()).toEqual(["shell"]);
  expect(registry.get("nope")).toBeUndefined();
  const ex = registry.get("shell")!.create({} as never);
  const stage = (name: string): StageRun => ({ stage: name, kind: "user", script: "", shell: "bash" });
  await ex.prepare({} as never);
  await ex.run(stage("get_sources"), { onOutput: () => {} }, new AbortController().signal);
  await ex.run(stage("step_script"), { onOutput: () => {} }, new AbortController().signal);
  await ex.cleanup();
  expect(ex.name).toBe("shell");
  expect(seen).toEqual([
    "prepare_executor/created",
    "prepare_executor/prepare",
    "get_sources/shell_run",
    "step_script/shell_run",
    "step_script/cleanup",
  ]);
});
