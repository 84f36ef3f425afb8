// The job payload: the 201 body of `POST jobs/request` (runner-api.md (b)). Parsed once, here,
// the way GitLab Runner's Go decoder reads it: unknown keys are ignored and null or missing
// fields become zero values, so the inside of runmesh never checks for absence. Wrong types
// are an error, as they are for encoding/json.
import { z } from "zod";

const str = () =>
  z
    .string()
    .nullish()
    .transform((v) => v ?? "");
const int = () =>
  z
    .number()
    .int()
    .nullish()
    .transform((v) => v ?? 0);
const num = () =>
  z
    .number()
    .nullish()
    .transform((v) => v ?? 0);
const bool = () =>
  z
    .boolean()
    .nullish()
    .transform((v) => v ?? false);
const list = <T extends z.ZodType>(item: T) =>
  z
    .array(item)
    .nullish()
    .transform((v): z.output<T>[] => v ?? []);
/** A nested object that is its zero value (every field defaulted) when null or missing. */
const record = <S extends z.ZodRawShape>(shape: S) => {
  const schema = z.object(shape);
  return schema.nullish().transform((v) => v ?? schema.parse({}));
};

export const jobVariableSchema = z.object({
  key: str(),
  value: str(),
  public: bool(),
  file: bool(),
  masked: bool(),
  raw: bool(),
});
export type JobVariable = z.output<typeof jobVariableSchema>;

const stepSchema = z.object({
  name: str(),
  script: list(z.string()),
  timeout: int(),
  when: str(),
  allow_failure: bool(),
});
export type JobStep = z.output<typeof stepSchema>;

// Only these executor_opts exist; anything else is refused at pickup (GitLab Runner does so
// rather than silently ignoring an option the user expects to take effect).
const executorOptsSchema = z.strictObject({
  docker: z
    .strictObject({
      platform: z.string().nullish(),
      user: z.union([z.string(), z.number().int()]).nullish(),
    })
    .nullish(),
  kubernetes: z.strictObject({ user: z.union([z.string(), z.number().int()]).nullish() }).nullish(),
});

const imageShape = {
  name: str(),
  alias: str(),
  command: list(z.string()),
  entrypoint: list(z.string()),
  ports: list(z.object({ number: int(), protocol: str(), name: str() })),
  variables: list(jobVariableSchema),
  pull_policy: list(z.string()),
  executor_opts: executorOptsSchema.nullish().transform((v) => v ?? {}),
};
const imageSchema = record(imageShape);
const serviceSchema = z.object(imageShape);
export type JobImage = z.output<typeof serviceSchema>;

const artifactSchema = z.object({
  name: str(),
  untracked: bool(),
  paths: list(z.string()),
  exclude: list(z.string()),
  when: str(),
  artifact_type: str(),
  artifact_format: str(),
  expire_in: str(),
});
export type JobArtifact = z.output<typeof artifactSchema>;

const cacheSchema = z.object({
  key: str(),
  untracked: bool(),
  policy: str(),
  paths: list(z.string()),
  when: str(),
  fallback_keys: list(z.string()),
});
export type JobCache = z.output<typeof cacheSchema>;

export const jobPayloadSchema = z.object({
  id: int(),
  token: str(),
  allow_git_fetch: bool(),
  job_info: record({
    name: str(),
    stage: str(),
    pipeline_id: int(),
    project_id: int(),
    project_name: str(),
    project_full_path: str(),
    namespace_id: int(),
    root_namespace_id: int(),
    organization_id: int(),
    instance_id: str(),
    instance_uuid: str(),
    user_id: int(),
    scoped_user_id: z.number().int().nullish(),
    time_in_queue_seconds: num(),
    project_jobs_running_on_instance_runners_count: str(),
    queue_size: int(),
    queue_depth: int(),
  }),
  git_info: record({
    repo_url: str(),
    repo_object_format: str(),
    ref: str(),
    sha: str(),
    before_sha: str(),
    ref_type: str(),
    refspecs: list(z.string()),
    depth: int(),
    protected: z.boolean().nullish(),
  }),
  runner_info: record({ timeout: int(), uuid: str(), runner_session_url: str() }),
  inputs: list(
    z.object({
      key: str(),
      value: record({ type: str(), content: z.unknown(), sensitive: bool() }),
    }),
  ),
  variables: list(jobVariableSchema),
  steps: list(stepSchema),
  hooks: list(z.object({ name: str(), script: list(z.string()) })),
  image: imageSchema,
  services: list(serviceSchema),
  artifacts: list(artifactSchema),
  cache: list(cacheSchema),
  credentials: list(z.object({ type: str(), url: str(), username: str(), password: str() })),
  dependencies: list(
    z.object({
      id: int(),
      token: str(),
      name: str(),
      artifacts_file: record({ filename: str(), size: int() }),
    }),
  ),
  features: record({
    trace_sections: bool(),
    token_mask_prefixes: list(z.string()),
    failure_reasons: list(z.string()),
    tracing: z.unknown().optional(),
  }),
  secrets: z
    .record(z.string(), z.unknown())
    .nullish()
    .transform((v) => v ?? {}),
  run: str(),
  policy_options: record({
    execution_policy_job: bool(),
    policy_name: str(),
    policy_variables_override_allowed: z.boolean().nullish(),
    policy_variables_override_exceptions: z.array(z.string()).nullish(),
  }),
});

export type JobPayload = z.output<typeof jobPayloadSchema>;

export type ParseJobPayloadResult = { ok: true; job: JobPayload } | { ok: false; error: string };

/**
 * Decodes and validates a job payload. On failure the error is the text to write to the job's
 * trace; the caller then fails the job with runner_system_failure, exit code 3.
 */
export function parseJobPayload(rawJson: string): ParseJobPayloadResult {
  let raw: unknown;
  try {
    raw = JSON.parse(rawJson);
  } catch (error) {
    return { ok: false, error: `decoding job payload: ${(error as Error).message}` };
  }
  const parsed = jobPayloadSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, error: describeIssues(parsed.error) };
  const job = parsed.data;
  if (job.run !== "" && job.steps.some((s) => s.name !== "after_script" && s.script.length > 0)) {
    return {
      ok: false,
      error: `the job has both "run" (GitLab Steps) and "script" steps; a job can use only one of them`,
    };
  }
  if (job.run !== "" && job.variables.some((v) => v.key === "STEPS")) {
    return {
      ok: false,
      error: `the STEPS variable is reserved when the job uses "run"; rename the variable`,
    };
  }
  return { ok: true, job };
}

const SUPPORTED_EXECUTOR_OPTS = "[docker.platform docker.user kubernetes.user]";

function describeIssues(error: z.ZodError): string {
  const lines = error.issues.map((issue) => {
    const where = issue.path.map(String).join(".");
    const optsAt = issue.path.indexOf("executor_opts");
    if (issue.code === "unrecognized_keys" && optsAt >= 0) {
      const owner = issue.path.slice(0, optsAt).map(String).join(".");
      const scope = issue.path.slice(optsAt + 1).map(String);
      const keys = issue.keys.map((k) => [...scope, k].join("."));
      return `invalid "${owner}" executor_opts: unsupported options [${keys.join(" ")}]; supported options are ${SUPPORTED_EXECUTOR_OPTS}`;
    }
    return `invalid job payload: ${where || "(root)"}: ${issue.message}`;
  });
  return lines.join("; ");
}
