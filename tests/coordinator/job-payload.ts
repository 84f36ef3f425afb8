// Builds the 201 body of `POST jobs/request` the way GitLab serialises a job
// (runner-api.md (b)); pure, so tests can read exactly what a runner receives.
import { GITLAB_FAILURE_REASONS } from "./failure-reasons.ts";

export interface JobVariable {
  key: string;
  value: string;
  public?: boolean;
  masked?: boolean;
  file?: boolean;
  raw?: boolean;
}

export interface GitInfo {
  repo_url: string;
  repo_object_format: string;
  ref: string;
  sha: string;
  before_sha: string;
  ref_type: "branch" | "tag";
  refspecs: string[];
  depth: number;
  protected: boolean | null;
}

/** What a test may choose about a job; everything else gets GitLab-like defaults. */
export interface JobSpec {
  name?: string;
  stage?: string;
  script?: string[];
  afterScript?: string[];
  variables?: JobVariable[];
  /** runner_info.timeout and the step timeouts, in seconds (GitLab default 3600). */
  timeoutS?: number;
  /** Sent as the GIT_STRATEGY variable when set. */
  gitStrategy?: "clone" | "fetch" | "none" | "empty";
  allowGitFetch?: boolean;
  /** Repository URL without credentials; `gitlab-ci-token:<job token>@` is inserted. */
  repoUrl?: string;
  gitInfo?: Partial<GitInfo>;
  projectPath?: string;
  projectId?: number;
  image?: Record<string, unknown> | null;
  services?: Record<string, unknown>[];
  artifacts?: Record<string, unknown>[] | null;
  cache?: Record<string, unknown>[];
  credentials?: Record<string, unknown>[];
  dependencies?: Record<string, unknown>[];
  /** Overrides features.failure_reasons (e.g. an old server's shorter list). */
  failureReasons?: string[];
  tokenMaskPrefixes?: string[];
  /** `allow_failure: exit_codes:`; GitLab then hands the job only to runners with return_exit_code. */
  allowFailureExitCodes?: number[];
  /** Runner features the job needs beyond GitLab's own predicates (e.g. EE's vault_secrets). */
  requiredFeatures?: string[];
  /** Merged last, shallowly, into the payload: the way to send invalid or unusual payloads. */
  extra?: Record<string, unknown>;
}

export interface PayloadContext {
  id: number;
  token: string;
  serverUrl: string;
  pipelineId: number;
  runnerSessionUrl: string | null;
  queueSize: number;
}

const DEFAULT_SHA = "1f8d8b6a7c3e2d1f0a9b8c7d6e5f4a3b2c1d0e9f";
const DEFAULT_BEFORE_SHA = "0000000000000000000000000000000000000000";

export function withJobTokenCredentials(repoUrl: string, jobToken: string): string {
  const url = new URL(repoUrl);
  url.username = "gitlab-ci-token";
  url.password = jobToken;
  return url.toString();
}

export function buildJobPayload(spec: JobSpec, ctx: PayloadContext): Record<string, unknown> {
  const projectPath = spec.projectPath ?? "group/project";
  const projectId = spec.projectId ?? 1;
  const projectName = projectPath.split("/").at(-1) ?? projectPath;
  const namespace = projectPath.split("/").slice(0, -1).join("/");
  const server = new URL(ctx.serverUrl);
  const timeout = spec.timeoutS ?? 3600;
  const name = spec.name ?? `job-${ctx.id}`;
  const stage = spec.stage ?? "test";
  const ref = spec.gitInfo?.ref ?? "main";
  const sha = spec.gitInfo?.sha ?? DEFAULT_SHA;
  const refType = spec.gitInfo?.ref_type ?? "branch";
  const refsFolder = refType === "tag" ? "tags" : "heads";
  const remoteFolder = refType === "tag" ? "tags" : "remotes/origin";
  const repoBase = spec.repoUrl ?? `${ctx.serverUrl}/${projectPath}.git`;

  const gitInfo: GitInfo = {
    repo_url: withJobTokenCredentials(repoBase, ctx.token),
    repo_object_format: "sha1",
    ref,
    sha,
    before_sha: DEFAULT_BEFORE_SHA,
    ref_type: refType,
    refspecs: [`+refs/${refsFolder}/${ref}:refs/${remoteFolder}/${ref}`],
    depth: 20,
    protected: false,
    ...spec.gitInfo,
  };

  const pipelineUrl = `${ctx.serverUrl}/${projectPath}/-/pipelines/${ctx.pipelineId}`;
  const predefined: JobVariable[] = [
    { key: "CI_PIPELINE_ID", value: String(ctx.pipelineId), public: true, masked: false },
    { key: "CI_PIPELINE_URL", value: pipelineUrl, public: true, masked: false },
    { key: "CI_PIPELINE_SOURCE", value: "push", public: true, masked: false },
    { key: "CI_JOB_ID", value: String(ctx.id), public: true, masked: false },
    {
      key: "CI_JOB_URL",
      value: `${ctx.serverUrl}/${projectPath}/-/jobs/${ctx.id}`,
      public: true,
      masked: false,
    },
    { key: "CI_JOB_TOKEN", value: ctx.token, public: false, masked: true },
    { key: "CI_JOB_NAME", value: name, public: true, masked: false },
    { key: "CI_JOB_STAGE", value: stage, public: true, masked: false },
    { key: "CI_NODE_TOTAL", value: "1", public: true, masked: false },
    { key: "CI_BUILD_TOKEN", value: ctx.token, public: false, masked: true },
    { key: "CI", value: "true", public: true, masked: false },
    { key: "GITLAB_CI", value: "true", public: true, masked: false },
    { key: "CI_SERVER_URL", value: ctx.serverUrl, public: true, masked: false },
    { key: "CI_SERVER_HOST", value: server.hostname, public: true, masked: false },
    { key: "CI_SERVER_PORT", value: server.port || "80", public: true, masked: false },
    { key: "CI_SERVER_PROTOCOL", value: server.protocol.replace(":", ""), public: true, masked: false },
    { key: "CI_API_V4_URL", value: `${ctx.serverUrl}/api/v4`, public: true, masked: false },
    { key: "CI_PROJECT_ID", value: String(projectId), public: true, masked: false },
    { key: "CI_PROJECT_NAME", value: projectName, public: true, masked: false },
    { key: "CI_PROJECT_PATH", value: projectPath, public: true, masked: false },
    { key: "CI_PROJECT_NAMESPACE", value: namespace, public: true, masked: false },
    { key: "CI_PROJECT_URL", value: `${ctx.serverUrl}/${projectPath}`, public: true, masked: false },
    { key: "CI_REPOSITORY_URL", value: gitInfo.repo_url, public: false, masked: false },
    { key: "CI_COMMIT_SHA", value: gitInfo.sha, public: true, masked: false },
    { key: "CI_COMMIT_SHORT_SHA", value: gitInfo.sha.slice(0, 8), public: true, masked: false },
    { key: "CI_COMMIT_BEFORE_SHA", value: gitInfo.before_sha, public: true, masked: false },
    { key: "CI_COMMIT_REF_NAME", value: gitInfo.ref, public: true, masked: false },
    {
      key: "CI_COMMIT_REF_SLUG",
      value: gitInfo.ref.toLowerCase().replace(/[^a-z0-9]/g, "-"),
      public: true,
      masked: false,
    },
    ...(gitInfo.ref_type === "branch"
      ? [{ key: "CI_COMMIT_BRANCH", value: gitInfo.ref, public: true, masked: false }]
      : [{ key: "CI_COMMIT_TAG", value: gitInfo.ref, public: true, masked: false }]),
    {
      key: "CI_COMMIT_REF_PROTECTED",
      value: String(gitInfo.protected ?? false),
      public: true,
      masked: false,
    },
    { key: "CI_DEFAULT_BRANCH", value: "main", public: true, masked: false },
    { key: "GITLAB_USER_ID", value: "1", public: true, masked: false },
    { key: "GITLAB_USER_LOGIN", value: "root", public: true, masked: false },
  ];
  if (gitInfo.depth > 0) {
    predefined.push({ key: "GIT_DEPTH", value: String(gitInfo.depth), public: true, masked: false });
  }
  if (spec.gitStrategy) {
    predefined.push({ key: "GIT_STRATEGY", value: spec.gitStrategy, public: true, masked: false });
  }
  const userVariables = (spec.variables ?? []).map((v) => ({
    key: v.key,
    value: v.value,
    public: v.public ?? false,
    masked: v.masked ?? false,
    ...(v.file !== undefined ? { file: v.file } : {}),
    ...(v.raw !== undefined ? { raw: v.raw } : {}),
  }));

  const steps: Record<string, unknown>[] = [
    {
      name: "script",
      script: spec.script ?? ["echo hello"],
      timeout,
      when: "on_success",
      allow_failure: false,
    },
  ];
  if (spec.afterScript) {
    steps.push({
      name: "after_script",
      script: spec.afterScript,
      timeout,
      when: "always",
      allow_failure: true,
    });
  }

  const payload: Record<string, unknown> = {
    id: ctx.id,
    token: ctx.token,
    allow_git_fetch: spec.allowGitFetch ?? true,
    job_info: {
      id: ctx.id,
      name,
      stage,
      project_id: projectId,
      project_name: projectName,
      project_full_path: projectPath,
      pipeline_id: ctx.pipelineId,
      namespace_id: 1,
      root_namespace_id: 1,
      organization_id: 1,
      instance_id: "runmesh-coordinator",
      instance_uuid: "00000000-0000-4000-8000-000000000000",
      user_id: 1,
      time_in_queue_seconds: 0,
      project_jobs_running_on_instance_runners_count: "0",
      queue_size: ctx.queueSize,
      queue_depth: ctx.queueSize,
    },
    git_info: gitInfo,
    runner_info: { timeout, runner_session_url: ctx.runnerSessionUrl },
    variables: [...predefined, ...userVariables],
    steps,
    hooks: [],
    image: spec.image ?? null,
    services: spec.services ?? [],
    artifacts: spec.artifacts ?? null,
    cache: spec.cache ?? [],
    credentials: spec.credentials ?? [],
    dependencies: spec.dependencies ?? [],
    features: {
      trace_sections: true,
      failure_reasons: [...(spec.failureReasons ?? GITLAB_FAILURE_REASONS)],
      ...(spec.tokenMaskPrefixes ? { token_mask_prefixes: spec.tokenMaskPrefixes } : {}),
    },
  };
  return { ...payload, ...spec.extra };
}
