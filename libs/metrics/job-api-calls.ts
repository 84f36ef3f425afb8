// gitlab_runner_api_request_statuses_total for the job-token endpoints a worker calls
// (GitLab Runner's update_job and patch_trace): the worker's GitLab client, observed from the
// outside, one count per call with the status GitLab answered. A call without an HTTP answer
// is not counted, as GitLab Runner skips its clientError.
import type { GitLabClient } from "../gitlab/client.ts";

export type JobApiObserver = (
  endpoint: "update_job" | "patch_trace",
  method: "PUT" | "PATCH",
  status: number,
  seconds: number,
) => void;

export function observeJobApi(client: GitLabClient, observe: JobApiObserver): GitLabClient {
  const timed =
    <A extends unknown[], R extends { status?: number }>(
      endpoint: "update_job" | "patch_trace",
      method: "PUT" | "PATCH",
      call: (...args: A) => Promise<R>,
    ) =>
    async (...args: A): Promise<R> => {
      const started = performance.now();
      const r = await call(...args);
      if (r.status !== undefined && r.status > 0)
        observe(endpoint, method, r.status, (performance.now() - started) / 1000);
      return r;
    };
  const updateJob = timed("update_job", "PUT", client.updateJob.bind(client));
  const patchTrace = timed("patch_trace", "PATCH", client.patchTrace.bind(client));
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === "updateJob") return updateJob;
      if (prop === "patchTrace") return patchTrace;
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
