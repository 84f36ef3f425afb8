// GitLab Runner's `/debug/jobs/list` (commands/builds_helper.go ListJobsHandler, list version 2):
// one line per running job, `url=… state=… stage=… executor_stage=… duration=…`, the duration
// in Go's time.Duration format. Pure: the worker's job watches feed it at request time.
import { formatGoDuration } from "../config/go-duration.ts";

/** The version header GitLab Runner sends (`X-List-Version: 2`). */
export const JOB_LIST_VERSION = "2";

export interface ListedJob {
  url: string;
  state: string;
  stage: string;
  executorStage: string;
  startedAt: number;
}

export function formatJobList(jobs: readonly ListedJob[], now: number): string {
  return jobs
    .map(
      (j) =>
        `url=${j.url} state=${j.state} stage=${j.stage} executor_stage=${j.executorStage} duration=${formatGoDuration(Math.max(0, now - j.startedAt))}\n`,
    )
    .join("");
}

/**
 * GitLab Runner's JobURL (common/spec/spec.go): the repository URL without credentials and
 * `.git`, then `/-/jobs/<id>`. Falls back to the GitLab URL when the payload has no repo_url.
 */
export function jobUrl(repoUrl: string | undefined, gitlabUrl: string, jobId: number): string {
  let base = gitlabUrl.replace(/\/+$/, "");
  if (repoUrl) {
    try {
      const u = new URL(repoUrl);
      u.username = "";
      u.password = "";
      base = u.toString().replace(/\/+$/, "");
    } catch {
      base = repoUrl;
    }
    base = base.replace(/\.git$/, "");
  }
  return `${base}/-/jobs/${jobId}`;
}
