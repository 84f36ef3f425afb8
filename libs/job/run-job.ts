// The worker's entry into a job: resolves the builds dir and the runner's TLS CA, runs the stage
// machine, and always cleans the executor up. Payload validation happens before (parseJobPayload).
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Executor } from "../executors/executor.ts";
import type { JobTraceSink } from "./job-log.ts";
import type { JobPayload } from "./payload.ts";
import type { RunnerSettings } from "./runner-settings.ts";
import { type JobResult, runStages } from "./stages.ts";

export type { JobResult } from "./stages.ts";

export interface RunJobOptions {
  job: JobPayload;
  runnerSettings: RunnerSettings;
  executor: Executor;
  /** The job log: runner bytes, script output by stream, end of each stage's output. */
  log: JobTraceSink;
  cancelSignal: AbortSignal;
  abortSignal: AbortSignal;
  systemId: string;
  /** The worker's default builds root, used when the runner entry has no builds_dir. */
  buildsDir: string;
  version: string;
  revision: string;
  /** Pause between prepare_executor attempts; GitLab's 3 s by default. */
  prepareRetryDelayMs?: number;
  /** Pause before stage retry `retry` (0-based); GitLab's backoff by default. Tests pass `() => 0`. */
  stageRetryDelayMs?: (retry: number, exponential: boolean) => number;
}

export async function runJob(o: RunJobOptions): Promise<JobResult> {
  const buildsDir = resolveBuildsDir(o.runnerSettings.builds_dir ?? o.buildsDir);
  // GitLab Runner gives jobs the CA it trusts for the server (so git can clone from it) and
  // its client certificate, as file variables.
  const read = async (path: string | undefined) =>
    path ? await readFile(path, "utf8").catch(() => undefined) : undefined;
  const tlsCaContent = await read(o.runnerSettings["tls-ca-file"]);
  const tlsCertContent = await read(o.runnerSettings["tls-cert-file"]);
  const tlsKeyContent = await read(o.runnerSettings["tls-key-file"]);
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
      revision: o.revision,
      arch: goArch(process.arch),
      os: goOs(process.platform),
      tlsCaContent,
      tlsCertContent,
      tlsKeyContent,
      prepareRetryDelayMs: o.prepareRetryDelayMs,
      stageRetryDelayMs: o.stageRetryDelayMs,
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

export function goOs(nodePlatform: string): string {
  return nodePlatform === "win32" ? "windows" : nodePlatform;
}
