// The artifact stages: download_artifacts and upload_artifacts_on_success / _on_failure
// (runner-api.md (d)). GitLab Runner hands them to its helper binary next to the project dir;
// runmesh runs the same work in the worker process, with the job's own token (and each
// dependency's), writing GitLab Runner's lines to the job log, and reaches the project dir
// through the executor's workspace transfer (in place on shell; a staging copy for docker and
// ssh). Executors without one keep refusing such jobs (stages.ts).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { downloadDependency } from "../artifacts/artifact-download.ts";
import { uploadEntry } from "../artifacts/artifact-upload.ts";
import type { WorkspaceTransfer } from "../executors/workspace-transfer.ts";
import { downloadOptions, uploadOptions } from "./artifact-transfer-options.ts";
import type { JobLog } from "./job-log.ts";
import type { JobPlan, Placement } from "./job-plan.ts";
import type { JobPayload } from "./payload.ts";
import type { Outcome } from "./stage-runner.ts";
import { inSection } from "./stage-section.ts";

/** The `when` of an artifacts entry includes the stage for this job state (GitLab's default on_success). */
export function artifactsFor(job: JobPayload, failed: boolean): JobPayload["artifacts"] {
  return job.artifacts.filter((a) => {
    if (a.paths.length === 0 && !a.untracked) return false;
    const when = a.when || "on_success";
    return when === "always" || when === (failed ? "on_failure" : "on_success");
  });
}

export function dependenciesWithArtifacts(job: JobPayload): JobPayload["dependencies"] {
  return job.dependencies.filter((d) => d.artifacts_file.filename !== "");
}

interface TransferRun {
  plan: JobPlan;
  placed: Placement;
  log: JobLog;
  signal: AbortSignal;
  /** How the worker reaches the project dir (the executor's). */
  workspace: WorkspaceTransfer;
}

/** A fresh staging dir (ARCHIVER_STAGING_DIR or the temp dir), removed after `use`. */
async function staged<T>(run: TransferRun, use: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(
    join(variable(run.placed, "ARCHIVER_STAGING_DIR") || tmpdir(), "runmesh-transfer-"),
  );
  try {
    return await use(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function variable(placed: Placement, key: string): string | undefined {
  return placed.variables.findLast((v) => v.key === key)?.value;
}

function failed(message: string): Outcome {
  return { kind: "error", error: { reason: "script_failure", message, exitCode: 1 } };
}

export async function downloadArtifactsStage(run: TransferRun): Promise<Outcome> {
  const deps = dependenciesWithArtifacts(run.plan.job);
  if (deps.length === 0) return { kind: "skipped" };
  return inSection(run, "download_artifacts", "Downloading artifacts", async () => {
    for (const dep of deps) {
      const error = await staged(run, async (staging) => {
        const failure = await downloadDependency(
          {
            baseUrl: run.plan.settings.url ?? "",
            projectDir: run.workspace.importDir(staging),
            log: run.log,
            directDownload: run.plan.featureFlags.FF_USE_DIRECT_DOWNLOAD !== false,
            stagingDir: variable(run.placed, "ARCHIVER_STAGING_DIR"),
            signal: run.signal,
            ...downloadOptions(run.placed),
          },
          dep,
        );
        if (failure) return failure;
        return run.workspace.importTree(staging, run.signal).then(
          () => undefined,
          (e: Error) => `artifacts of ${dep.name} (${dep.id}) into ${run.placed.projectDir}: ${e.message}`,
        );
      });
      if (error) return failed(error);
    }
    return { kind: "ok" };
  });
}

export async function uploadArtifactsStage(run: TransferRun, jobFailed: boolean): Promise<Outcome> {
  const entries = artifactsFor(run.plan.job, jobFailed);
  const url = run.plan.settings.url ?? "";
  if (entries.length === 0 || url === "") return { kind: "skipped" };
  const name = jobFailed ? "upload_artifacts_on_failure" : "upload_artifacts_on_success";
  return inSection(
    run,
    name,
    `Uploading artifacts for ${jobFailed ? "failed" : "successful"} job`,
    async () => {
      for (const entry of entries) {
        run.log.println("Uploading artifacts...");
        const error = await staged(run, async (staging) => {
          let view: Awaited<ReturnType<WorkspaceTransfer["exportPaths"]>>;
          try {
            view = await run.workspace.exportPaths(entry, staging, run.signal);
          } catch (e) {
            return `artifacts "${entry.name || "default"}" from ${run.placed.projectDir}: ${(e as Error).message}`;
          }
          return uploadEntry(
            {
              baseUrl: url,
              jobId: run.plan.job.id,
              token: run.plan.job.token,
              projectDir: view.dir,
              listUntracked: view.listUntracked,
              log: run.log,
              stagingDir: variable(run.placed, "ARCHIVER_STAGING_DIR"),
              signal: run.signal,
              ...uploadOptions(run.plan, run.placed, run.log),
            },
            entry,
          );
        });
        if (error) return failed(error);
      }
      return { kind: "ok" };
    },
  );
}
