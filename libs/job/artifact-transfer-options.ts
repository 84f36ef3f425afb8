// What the artifact stages take from the job besides paths and tokens: the archive settings of
// its variables (archive-settings.ts: levels, FASTZIP_*, TRANSFER_METER_FREQUENCY) and, when
// RUNNER_GENERATE_ARTIFACTS_METADATA is true, the attestation's inputs as GitLab Runner's
// shells/abstract.go passes them to the uploader (CI_RUNNER_ID, the project URL without
// credentials or `.git`, the commit, job, executor and runner names, every variable's name).

import { archiveSettings, compressionLevel } from "../artifacts/archive-settings.ts";
import type { DownloadContext } from "../artifacts/artifact-download.ts";
import type { UploadContext } from "../artifacts/artifact-upload.ts";
import type { AttestationInputs } from "../artifacts/attestation.ts";
import { RUNMESH_VERSION } from "../build-info/version.ts";
import type { JobLog } from "./job-log.ts";
import type { JobPlan, Placement } from "./job-plan.ts";

type Options<T> = Partial<Omit<T, "baseUrl" | "jobId" | "token" | "projectDir" | "log" | "signal">>;

function lookup(placed: Placement) {
  return (key: string) => placed.variables.findLast((v) => v.key === key)?.value;
}

/** git_info.repo_url without userinfo and `.git` (GitLab Runner: RepoCleanURL, trimmed). */
export function projectUrl(repoUrl: string): string {
  try {
    const u = new URL(repoUrl);
    u.username = "";
    u.password = "";
    return u
      .toString()
      .replace(/\/+$/, "")
      .replace(/\.git$/, "");
  } catch {
    return repoUrl.replace(/^([a-z]+:\/\/)[^@/]*@/i, "$1").replace(/\.git$/, "");
  }
}

export function attestationInputs(plan: JobPlan, placed: Placement): AttestationInputs {
  const get = lookup(placed);
  const started = Date.parse(get("CI_JOB_STARTED_AT") ?? "");
  return {
    runnerId: get("CI_RUNNER_ID") ?? "",
    repoUrl: projectUrl(plan.job.git_info.repo_url),
    repoDigest: plan.job.git_info.sha,
    jobName: plan.job.job_info.name,
    executor: plan.executorName,
    runnerName: plan.settings.name ?? "",
    parameters: [...new Set(placed.variables.map((v) => v.key))],
    startedAt: Number.isNaN(started) ? new Date() : new Date(started),
    endedAt: new Date(),
    version: `v${RUNMESH_VERSION}`,
  };
}

/** The upload context's tuning for one job; settings warnings go to the job log. */
export function uploadOptions(plan: JobPlan, placed: Placement, log: JobLog): Options<UploadContext> {
  const settings = archiveSettings(lookup(placed));
  for (const w of settings.warnings) log.warning(w);
  return {
    compressionLevel: compressionLevel(lookup(placed)("ARTIFACT_COMPRESSION_LEVEL")),
    zip: settings.zip,
    meterFrequencyMs: settings.meterFrequencyMs,
    attestation: settings.generateMetadata ? attestationInputs(plan, placed) : undefined,
  };
}

export function downloadOptions(placed: Placement): Options<DownloadContext> {
  const settings = archiveSettings(lookup(placed));
  return { meterFrequencyMs: settings.meterFrequencyMs, extractConcurrency: settings.extractConcurrency };
}
