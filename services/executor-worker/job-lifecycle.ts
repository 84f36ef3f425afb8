// One job on a worker, from claim to final update: acknowledge at GitLab (PUT running, the
// two-phase-commit acknowledgement), run the stages, stream the trace, report the end. Each step
// is committed in the job record by compare-and-set first, so the scheduler can tell how far a
// lost worker got, and no job is acknowledged twice.

import type { CacheUrlSource } from "../../libs/cache/remote-cache.ts";
import type { Executor } from "../../libs/executors/executor.ts";
import type {
  ExecutorInstance,
  ExecutorProvider,
  RunnerEntrySettings,
  WorkerExecutorOptions,
} from "../../libs/executors/provider.ts";
import type { ExecutorRegistry } from "../../libs/executors/registry.ts";
import { failpoint } from "../../libs/failpoints/failpoints.ts";
import { negotiateFailureReason } from "../../libs/gitlab/failure-reason.ts";
import type { ClientFor } from "../../libs/gitlab/gitlab-reporter.ts";
import type { RunnerInfo } from "../../libs/gitlab/runner-info.ts";
import { type JobPlan, outputLimitBytes, planJob } from "../../libs/job/job-plan.ts";
import { parseJobPayload } from "../../libs/job/payload.ts";
import { type JobResult, runJob } from "../../libs/job/run-job.ts";
import type { RunnerSettings } from "../../libs/job/runner-settings.ts";
import type { Logger } from "../../libs/log/logger.ts";
import type { AcceptedJob, JobEvent, JobRecord } from "../../libs/messages/subjects.ts";
import { createJobLog, type JobLog } from "../../libs/trace/job-log.ts";
import { createMasker } from "../../libs/trace/masking.ts";
import { TraceBuffer } from "../../libs/trace/trace-buffer.ts";
import { JobTraceReporter } from "../../libs/trace/trace-reporter.ts";

export interface JobDeps {
  clientFor: ClientFor;
  infoFor: (job: AcceptedJob) => RunnerInfo;
  /** The executors this worker runs (registered and configured). */
  executors: ExecutorRegistry;
  executorOptions: WorkerExecutorOptions;
  /** The worker's default builds and cache roots, for runner entries that set none. */
  buildsDir: string;
  cacheDir: string;
  version: string;
  revision: string;
  /** Test knob: first trace update interval (GitLab Runner starts at 3 s). */
  traceUpdateIntervalMs?: number;
  /** The distributed cache's URLs for a job (cache-urls.ts); absent: local cache only. */
  cacheUrls?: (job: AcceptedJob) => CacheUrlSource | undefined;
}

export interface LifecycleHooks {
  log: Logger;
  advance: (state: JobRecord["state"], outcome?: string) => Promise<boolean>;
  publish: (
    event: "acknowledged" | "running" | "finished" | "dropped",
    extra?: Partial<JobEvent>,
  ) => Promise<void>;
  /** Where GitLab's copy of the log ends and the CRC-32 of the bytes before it (for heartbeats). */
  setProgressSource: (f: () => { offset: number; crc32: number }) => void;
  setAbort: (f: (reason: string) => void) => void;
  /** The payload could not be fetched from the mesh's store (payload-handover.ts): fail the job with this. */
  payloadError?: string;
}

export async function runJobLifecycle(job: AcceptedJob, deps: JobDeps, h: LifecycleHooks): Promise<void> {
  const client = deps.clientFor(job);
  const info = deps.infoFor(job);
  const settings: RunnerSettings = job.runner;
  const parsed = h.payloadError
    ? { ok: false as const, error: h.payloadError }
    : parseJobPayload(job.payload);
  const payload = parsed.ok ? parsed.job : undefined;
  const provider = deps.executors.get(settings.executor ?? "shell");
  // Decided once: the trace pipeline below and the stage machine read the same plan.
  const plan =
    payload && provider
      ? planJob(payload, settings, {
          executor: provider,
          layout: provider.layout({
            buildsDir: settings.builds_dir,
            cacheDir: settings.cache_dir,
            workerBuildsDir: deps.buildsDir,
            workerCacheDir: deps.cacheDir,
            runner: job.runner,
          }),
        })
      : undefined;
  const buffer = await TraceBuffer.create({
    limitBytes: plan?.outputLimitBytes ?? outputLimitBytes(settings),
  });
  // Job output → per-stream masker → timestamps → buffer; checksum and size are of the buffer's
  // bytes, exactly what is PATCHed (runner-api.md (f) 17).
  const log: JobLog = createJobLog({
    buffer,
    masker: () => createMasker(plan?.masking ?? { phrases: [] }),
    timestamps: plan?.timestamps ?? true,
  });
  const reporter = new JobTraceReporter({
    client,
    jobId: job.jobId,
    jobToken: job.jobToken,
    info,
    buffer,
    debugTrace: plan?.debugTrace ?? false,
    updateIntervalMs: deps.traceUpdateIntervalMs,
    logger: h.log,
  });
  h.setProgressSource(() => reporter.sentProgress());
  /** The end of every path that reached GitLab: final update, then the record, then the event. */
  const finish = async (
    state: "success" | "failed",
    failureReason?: string,
    exitCode?: number,
    outcome: string = state,
  ) => {
    log.finish();
    const report = await reporter.finish({ state, failureReason, exitCode });
    h.log.info({ state, failureReason, exitCode, report }, "job finished");
    await h.advance("final", outcome);
    await h.publish("finished", { state, failureReason });
  };
  /** GitLab refused the job: no final update, as GitLab Runner does. */
  const drop = async () => {
    reporter.abortLocal();
    await h.advance("final", "dropped");
    await h.publish("dropped");
  };
  // `return await` below, not `return`: the `finally` removes the buffer the reporter still reads.
  try {
    if (!parsed.ok || !payload) {
      // A payload GitLab Runner would refuse at pickup: written to the trace, failed as a system failure.
      if (!(await h.advance("running"))) return;
      const error = parsed.ok ? "unreadable job payload" : parsed.error;
      h.log.error({ err: error }, "invalid job payload");
      // GitLab takes `failed` only for an acknowledged job under two-phase commit.
      if ((await acknowledge(job, deps, info)).result === "abort") return await drop();
      log.runnerLine(`\x1b[31;1mERROR: Job failed (system failure): ${error}\x1b[0;m`);
      return await finish("failed", "runner_system_failure", 3);
    }
    // Commit "running" before the PUT: a worker lost after this point is never re-dispatched, so
    // GitLab sees at most one acknowledgement per job. One record write serves both: the
    // scheduler treats every state after "claimed" alike, and the cache-signer signs only for the
    // worker the record names (an "acknowledged" step of its own cost a KV write per job, issue 16).
    if (!(await h.advance("running"))) return;
    const ack = await acknowledge(job, deps, info);
    failpoint("worker.after_ack");
    if (ack.result === "abort" || ack.result === "failed") {
      h.log.warn({ result: ack.result, status: ack.status }, "GitLab refused the job at pickup; dropping it");
      return await drop();
    }
    await h.publish("acknowledged");
    if (ack.cancelRequested) {
      // Canceled while being picked up: fail at once, the reason sent verbatim (GitLab Runner does).
      log.runnerLine("\x1b[31;1mERROR: Job failed: canceled\x1b[0;m");
      return await finish("failed", "job_canceled", undefined, "canceled");
    }
    await h.publish("running");
    const cancel = new AbortController();
    const abort = new AbortController();
    let interruptReason: string | undefined;
    reporter.onCancelRequested(() => cancel.abort());
    reporter.onAbort(() => abort.abort());
    h.setAbort((reason) => {
      interruptReason = reason;
      abort.abort();
    });
    reporter.start();
    const result = await runOnExecutor(plan, settings, deps, h, {
      log,
      cancelSignal: cancel.signal,
      abortSignal: abort.signal,
      systemId: job.systemId,
      runnerName: job.runnerName,
      runner: job.runner,
      job: { key: job.jobKey, runnerKey: job.runnerKey },
      cacheUrls: deps.cacheUrls?.(job),
    });
    const state = interruptReason ? "failed" : result.state;
    const rawReason = interruptReason ?? result.failureReason;
    const failureReason =
      state === "failed" && rawReason
        ? negotiateFailureReason(rawReason, payload.features?.failure_reasons)
        : undefined;
    await finish(state, failureReason, result.exitCode);
  } finally {
    await buffer.remove().catch(() => {});
  }
}

/**
 * The job on its executor: the provider's instance (acquire) when it needs one, a fresh
 * executor, the stages, and the instance given back (release) whatever the end.
 */
async function runOnExecutor(
  plan: JobPlan | undefined,
  settings: RunnerSettings,
  deps: JobDeps,
  h: LifecycleHooks,
  o: {
    log: JobLog;
    cancelSignal: AbortSignal;
    abortSignal: AbortSignal;
    systemId: string;
    runnerName: string;
    runner: RunnerEntrySettings;
    job: { key: string; runnerKey: string };
    cacheUrls?: CacheUrlSource;
  },
): Promise<JobResult> {
  const name = settings.executor ?? "shell";
  const provider = deps.executors.get(name);
  const systemFailure = (message: string): JobResult => {
    o.log.runnerLine(`\x1b[31;1mERROR: Job failed (system failure): ${message}\x1b[0;m`);
    return { state: "failed", failureReason: "runner_system_failure", message };
  };
  // The scheduler routes by heartbeat and offer() refuses, so this is a mismatch, not a script error.
  if (!provider || !plan) return systemFailure(`this worker has no "${name}" executor`);
  let instance: ExecutorInstance | undefined;
  try {
    instance = await provider.acquire?.({
      jobId: plan.job.id,
      runnerName: o.runnerName,
      signal: AbortSignal.any([o.cancelSignal, o.abortSignal]),
    });
  } catch (e) {
    return systemFailure(`acquiring an instance for the "${name}" executor: ${(e as Error).message}`);
  }
  try {
    const executor = provider.create({
      worker: deps.executorOptions,
      instance,
      runner: o.runner,
      log: h.log,
      job: o.job,
    });
    return await runJob({
      plan: await configured(
        executor,
        plan,
        settings,
        provider,
        AbortSignal.any([o.cancelSignal, o.abortSignal]),
      ),
      executor,
      log: o.log,
      cancelSignal: o.cancelSignal,
      abortSignal: o.abortSignal,
      systemId: o.systemId,
      version: deps.version,
      revision: deps.revision,
      cacheUrls: o.cacheUrls,
    });
  } finally {
    if (instance && provider.release)
      await provider
        .release(instance)
        .catch((e: Error) => h.log.error({ err: e.message }, "releasing the executor instance failed"));
  }
}

/**
 * The plan with the layout the executor settled on (the custom executor's config_exec), when it
 * has a say. A failed configure keeps the plan: the executor fails its prepare with the reason.
 */
async function configured(
  executor: Executor,
  plan: JobPlan,
  settings: RunnerSettings,
  provider: ExecutorProvider,
  signal: AbortSignal,
): Promise<JobPlan> {
  if (!executor.configure) return plan;
  const override = await executor
    .configure({
      jobId: plan.job.id,
      variables: plan.job.variables,
      image: plan.job.image.name,
      services: plan.job.services,
      signal,
      jobResponse: plan.job,
    })
    .catch(() => undefined);
  if (!override) return plan;
  const layout = { ...plan.layout };
  if (override.buildsDir !== undefined) layout.buildsDir = override.buildsDir;
  if (override.cacheDir !== undefined) layout.cacheDir = override.cacheDir;
  if (override.sharedBuildsDir !== undefined) layout.sharedBuildsDir = override.sharedBuildsDir;
  const shell = override.shell ?? settings.shell;
  return planJob(plan.job, { ...settings, shell }, { executor: provider, layout });
}

/** PUT state=running, retried a few times on transient failures (never on abort). */
async function acknowledge(job: AcceptedJob, deps: JobDeps, info: RunnerInfo) {
  const client = deps.clientFor(job);
  let last = await client.updateJob(job.jobId, job.jobToken, { info, state: "running" });
  for (let attempt = 1; attempt < 4 && last.result === "failed"; attempt++) {
    await Bun.sleep(500 * attempt);
    last = await client.updateJob(job.jobId, job.jobToken, { info, state: "running" });
  }
  return last;
}
