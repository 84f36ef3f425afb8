// A coordinator plus `runmesh run` as a real process on a config file of its own: the set-up of
// the tests that signal, reload or restart the command itself.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { type ConfigSpec, configToml, type RunnerSpec } from "./mesh-harness.ts";
import { type MeshProcess, spawnRunmesh } from "./processes.ts";

export interface RunProcess {
  coordinator: Coordinator;
  proc: MeshProcess;
  /** The config.toml the process reads (tests rewrite it to reload). */
  path: string;
  /** Writes a new config.toml for the same coordinator. */
  rewrite(spec: Omit<ConfigSpec, "url">): void;
  stop(): Promise<void>;
}

export async function startRunProcess(o: {
  runners: RunnerSpec[];
  /** Registered at the coordinator without being in the config (yet). */
  extraTokens?: string[];
  concurrent?: number;
  global?: string;
}): Promise<RunProcess> {
  const coordinator = await startCoordinator({ longPollMs: 2000, traceUpdateIntervalS: 1 });
  for (const r of o.runners) coordinator.registerRunner(r.token);
  for (const t of o.extraTokens ?? []) coordinator.registerRunner(t);
  const path = join(mkdtempSync(join(tmpdir(), "runmesh-run-")), "config.toml");
  const rewrite = (spec: Omit<ConfigSpec, "url">) =>
    writeFileSync(path, configToml({ ...spec, url: coordinator.url }));
  rewrite({ concurrent: o.concurrent ?? 2, runners: o.runners, global: o.global });
  const proc = spawnRunmesh(["run", "--config", path]);
  await proc.waitFor("runmesh ready");
  return {
    coordinator,
    proc,
    path,
    rewrite,
    async stop() {
      proc.kill("SIGKILL");
      await proc.exited;
      await coordinator.stop();
    },
  };
}
