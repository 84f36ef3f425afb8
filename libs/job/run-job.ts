// The worker's entry into a job: reads the runner's TLS files, runs the stage machine on the
// planned job, and always cleans the executor up. The plan (job-plan.ts) is computed before, once,
// by the caller, which hands the same plan to the trace pipeline.
import { readFile } from "node:fs/promises";
import type { CacheUrlSource } from "../cache/remote-cache.ts";
import type { Executor } from "../executors/executor.ts";
import type { JobTraceSink } from "./job-log.ts";
import type { JobPlan } from "./job-plan.ts";
import { type JobResult, runStages } from "./stages.ts";

export type { JobResult } from "./stages.ts";

export interface RunJobOptions {
  plan: JobPlan;
  executor: Executor;
  /** The job log: runner bytes, script output by stream, end of each stage's output. */
  log: JobTraceSink;
  cancelSignal: AbortSignal;
  abortSignal: AbortSignal;
  systemId: string;
  version: string;
  revision: string;
  /** Pause between prepare_executor attempts; GitLab's 3 s by default. */
  prepareRetryDelayMs?: number;
  /** Pause before stage retry `retry` (0-based); GitLab's backoff by default. Tests pass `() => 0`. */
  stageRetryDelayMs?: (retry: number, exponential: boolean) => number;
  /** URLs for the distributed cache (the cache-signer); absent: the local cache only. */
  cacheUrls?: CacheUrlSource;
}

export async function runJob(o: RunJobOptions): Promise<JobResult> {
  const { settings } = o.plan;
  // GitLab Runner gives jobs the CA it trusts for the server (so git can clone from it) and
  // its client certificate, as file variables.
  const read = async (path: string | undefined) =>
    path ? await readFile(path, "utf8").catch(() => undefined) : undefined;
  try {
    return await runStages({
      plan: o.plan,
      executor: o.executor,
      log: o.log,
      cancelSignal: o.cancelSignal,
      abortSignal: o.abortSignal,
      systemId: o.systemId,
      version: o.version,
      revision: o.revision,
      arch: goArch(process.arch),
      os: goOs(process.platform),
      tlsCaContent: await read(settings["tls-ca-file"]),
      tlsCertContent: await read(settings["tls-cert-file"]),
      tlsKeyContent: await read(settings["tls-key-file"]),
      prepareRetryDelayMs: o.prepareRetryDelayMs,
      stageRetryDelayMs: o.stageRetryDelayMs,
      cacheUrls: o.cacheUrls,
    });
  } finally {
    await o.executor.cleanup().catch(() => {});
  }
}

const GO_ARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", ia32: "386", arm: "arm" };

export function goArch(nodeArch: string): string {
  return GO_ARCH[nodeArch] ?? nodeArch;
}

export function goOs(nodePlatform: string): string {
  return nodePlatform === "win32" ? "windows" : nodePlatform;
}
