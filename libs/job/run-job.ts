// The worker's entry into a job: resolves the builds dir and the runner's TLS CA, runs the stage
// machine, and always cleans the executor up. Payload validation happens before (parseJobPayload).
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Executor } from "../executors/executor.ts";
import { RUNMESH_REVISION } from "../mesh/version.ts";
import type { LogSink } from "./job-log.ts";
import type { JobPayload } from "./payload.ts";
import type { RunnerSettings } from "./runner-settings.ts";
import { type JobResult, runStages } from "./stages.ts";

export type { JobResult } from "./stages.ts";

export interface RunJobOptions {
  job: JobPayload;
  runnerSettings: RunnerSettings;
  executor: Executor;
  log: LogSink;
  cancelSignal: AbortSignal;
  abortSignal: AbortSignal;
  systemId: string;
  /** The worker's default builds root, used when the runner entry has no builds_dir. */
  buildsDir: string;
  version: string;
  revision?: string;
  /** Pause between prepare_executor attempts; GitLab's 3 s by default. */
  prepareRetryDelayMs?: number;
}

export async function runJob(o: RunJobOptions): Promise<JobResult> {
  const buildsDir = resolveBuildsDir(o.runnerSettings.builds_dir ?? o.buildsDir);
  let tlsCaContent: string | undefined;
  const caFile = o.runnerSettings["tls-ca-file"];
  if (caFile) {
    // GitLab Runner gives jobs the CA it trusts for the server, so git can clone from it.
    tlsCaContent = await readFile(caFile, "utf8").catch(() => undefined);
  }
  try {
    return await runStages({
      job: o.job,
      settings: o.runnerSettings,
      executor: o.executor,
      log: o.log,
      cancelSignal: o.cancelSignal,
      abortSignal: o.abortSignal,
      systemId: o.systemId,
      buildsDir,
      version: o.version,
      revision: o.revision ?? RUNMESH_REVISION,
      arch: goArch(process.arch),
      tlsCaContent,
      prepareRetryDelayMs: o.prepareRetryDelayMs,
    });
  } finally {
    await o.executor.cleanup().catch(() => {});
  }
}

/** `$PWD` in builds_dir means the worker's working directory, as in GitLab's shell executor. */
export function resolveBuildsDir(dir: string): string {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell variable, not a template
  return resolve(dir.replaceAll("${PWD}", process.cwd()).replaceAll("$PWD", process.cwd()));
}

const GO_ARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", ia32: "386", arm: "arm" };

export function goArch(nodeArch: string): string {
  return GO_ARCH[nodeArch] ?? nodeArch;
}
