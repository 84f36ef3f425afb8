// Runs whole jobs on the docker executor against a real engine, for the docker tests: the job
// planned as a worker plans it, the executor from the docker provider, the log collected.
import { dockerSchema } from "../../libs/config/executor-sections.ts";
import { dockerProvider } from "../../libs/executors/docker/provider.ts";
import type { Executor } from "../../libs/executors/executor.ts";
import { planJob } from "../../libs/job/job-plan.ts";
import { type JobPayload, parseJobPayload } from "../../libs/job/payload.ts";
import { type JobResult, runJob } from "../../libs/job/run-job.ts";

export function dockerPayload(overrides: Record<string, unknown>, id = 42): JobPayload {
  const parsed = parseJobPayload(
    JSON.stringify({
      id,
      token: "job-token-123",
      allow_git_fetch: false,
      job_info: { name: "test", project_id: 7, project_full_path: "group/project" },
      git_info: { repo_url: "https://gitlab-ci-token:job-token-123@gitlab.example.com/group/project.git" },
      runner_info: { timeout: 3600 },
      features: { trace_sections: true },
      variables: [{ key: "GIT_STRATEGY", value: "none" }],
      ...overrides,
    }),
  );
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.job;
}

export const script = (lines: string[], after?: string[]) => [
  { name: "script", script: lines, when: "on_success" },
  ...(after ? [{ name: "after_script", script: after, when: "always" }] : []),
];

export interface DockerRun {
  result: JobResult;
  log: string;
}

export interface DockerRunOptions {
  /** [runners.docker] keys; parsed by the config schema, so GitLab's defaults apply. */
  docker: Record<string, unknown>;
  workerId: string;
  workerBuildsDir: string;
  shell?: string;
  /** Sees the log as it grows; may cancel or abort the job. */
  onLog?: (log: string, controls: { cancel(): void; abort(): void }) => void;
  /** Hands the executor out (tests that look at it mid-job). */
  onExecutor?: (e: Executor) => void;
  dataDir?: string;
}

export async function runDockerJob(job: JobPayload, o: DockerRunOptions): Promise<DockerRun> {
  const provider = dockerProvider({ gracefulKillTimeoutMs: 2000 });
  const docker = dockerSchema.parse(o.docker);
  const settings = { name: "docker-1", short_token: "abcdefghi", executor: "docker", shell: o.shell };
  const plan = planJob(job, settings, {
    executor: provider,
    layout: provider.layout({
      workerBuildsDir: o.workerBuildsDir,
      workerCacheDir: `${o.workerBuildsDir}-cache`,
    }),
  });
  const executor = provider.create({
    worker: { workerId: o.workerId, dataDir: o.dataDir },
    runner: { ...settings, docker },
  });
  o.onExecutor?.(executor);
  const cancel = new AbortController();
  const abort = new AbortController();
  const decoder = new TextDecoder();
  let log = "";
  const append = (bytes: Uint8Array) => {
    log += decoder.decode(bytes);
    o.onLog?.(log, { cancel: () => cancel.abort(), abort: () => abort.abort() });
  };
  const result = await runJob({
    plan,
    executor,
    log: { runner: append, output: (_s, bytes) => append(bytes), endOutput: () => {} },
    cancelSignal: cancel.signal,
    abortSignal: abort.signal,
    systemId: "s_0123456789ab",
    version: "0.1.0",
    revision: "abcdef12",
    prepareRetryDelayMs: 10,
    stageRetryDelayMs: () => 0,
  });
  return { result, log };
}
