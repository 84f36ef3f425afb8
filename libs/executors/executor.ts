// The executor contract: GitLab Runner's prepare / run / cleanup seam. An executor runs a
// script it is given, somewhere (a host shell, a container, an ssh session); it knows nothing
// of stages, git or variables beyond the environment it is handed.
import type { WorkspaceTransfer } from "./workspace-transfer.ts";

/** The shells runmesh writes job scripts for. */
export type JobShell = "bash" | "sh";

export interface PrepareContext {
  /** Builds root on the executor's side; prepare creates it. */
  buildsDir: string;
  /** The shell the job's scripts are written for. */
  shell: JobShell;
  /** The job's project directory (under buildsDir). */
  projectDir: string;
  /** Writes runner lines to the job log ("Using Shell (bash) executor..."). */
  log(line: string): void;
  /** Aborts a slow prepare (pulls, provisioning) when the job is aborted or times out. */
  signal: AbortSignal;
  /** Identifies the job in executor-side names (containers, temp dirs) and logs. */
  jobId: number;
  /** Image and services for container executors, as GitLab sends them; the shell executor ignores them. */
  image?: ImageSpec;
  services?: readonly ImageSpec[];
  /** The job's variables (predefined, project, runner `environment`): services and auth read them. */
  variables?: readonly { key: string; value: string; public?: boolean; file?: boolean; masked?: boolean }[];
  /** Registry credentials GitLab sends with the job (`credentials`, type "registry"). */
  credentials?: readonly { type: string; url: string; username: string; password: string }[];
  /** Expands `$VAR` in a value against the job's variables (image names, GitLab's ExpandValue). */
  expand?(value: string): string;
  /** The job payload as parsed (GitLab's Build.Job, the job token in it): custom's JOB_RESPONSE_FILE. */
  jobResponse?: unknown;
}

/**
 * An image or service as the job payload gives it (GitLab's `image:` / `services:` keywords;
 * libs/job's payload schema parses it, every field present, empty when unset).
 */
export interface ImageSpec {
  name: string;
  /** Service aliases, comma or space separated as GitLab sends them. */
  alias: string;
  entrypoint: readonly string[];
  command: readonly string[];
  /** always / never / if-not-present, in order of preference; empty: the runner's setting. */
  pull_policy: readonly string[];
  /** Service variables (`services:variables`), job-variable shaped (masked ones stay masked). */
  variables: readonly {
    key: string;
    value: string;
    public?: boolean;
    file?: boolean;
    masked?: boolean;
    raw?: boolean;
  }[];
  ports: readonly { number: number; protocol: string; name: string }[];
  /** Only the options GitLab Runner supports reach here; others fail the payload check. */
  executor_opts: {
    docker?: { platform?: string | null; user?: string | number | null } | null;
    kubernetes?: { user?: string | number | null } | null;
  };
}

/**
 * Who a stage belongs to. `predefined`: the runner's own work (get_sources, caches, artifacts,
 * cleanup), which a container executor runs in its helper container; `user`: the job's script
 * (prepare_script, step_*, after_script), run in the job's image. GitLab's ExecutorCommand.Predefined.
 */
export type StageKind = "predefined" | "user";

export interface StageRun {
  /** Build stage name ("prepare_script", "step_script", "after_script", …). */
  stage: string;
  kind: StageKind;
  /** The complete script text for `shell`. */
  script: string;
  shell: JobShell;
  /** Extra environment for the process, on top of what the executor provides. */
  env?: Record<string, string>;
}

export interface StageIO {
  /** Called for each chunk as it arrives; never buffered to the end. */
  onOutput(chunk: Uint8Array, stream: "stdout" | "stderr"): void;
}

export interface StageResult {
  /** The script's exit code; -1 when it was killed by a signal without one. */
  exitCode: number;
  /** true when `signal` fired and the script was stopped because of it. */
  aborted: boolean;
}

/** What an executor decided about where the job lives, before its plan is final (custom: config_exec). */
export interface LayoutOverride {
  buildsDir?: string;
  cacheDir?: string;
  sharedBuildsDir?: boolean;
  /** The shell the job's scripts are written for, instead of the runner entry's. */
  shell?: JobShell;
}

export interface ConfigureContext {
  jobId: number;
  /** The job's variables as GitLab sent them (prepare then gets every variable of the job). */
  variables: readonly { key: string; value: string }[];
  /** The job's image name, expanded (the custom executor's CUSTOM_ENV_CI_JOB_IMAGE). */
  image?: string;
  /** The job's services (the custom executor's CUSTOM_ENV_CI_JOB_SERVICES). */
  services?: readonly ImageSpec[];
  signal: AbortSignal;
  /** The job payload as parsed (GitLab's Build.Job, the job token in it): custom's JOB_RESPONSE_FILE. */
  jobResponse?: unknown;
}

export interface Executor {
  readonly name: string;
  /**
   * Where the job runs, once prepared, for prepare_script's "Running on $(hostname) via HOST..."
   * (GitLab's Build.Hostname; the custom executor's config_exec `hostname`). Absent: no "via".
   */
  readonly hostname?: string;
  /**
   * Asked once before the job's stages are placed, when the executor defines it: the layout it
   * returns replaces the provider's (GitLab's custom executor lets config_exec move builds_dir).
   * After a rejection the provider's layout stays and the executor's prepare fails with the reason.
   */
  configure?(ctx: ConfigureContext): Promise<LayoutOverride | undefined>;
  prepare(ctx: PrepareContext): Promise<void>;
  /**
   * Runs one stage's script to its end. When `signal` aborts, the executor stops the script
   * (gracefully first) and resolves with `aborted: true`; it rejects only for infrastructure
   * failures (could not start, lost connection), which the job reports as system failures.
   */
  run(stage: StageRun, io: StageIO, signal: AbortSignal): Promise<StageResult>;
  cleanup(): Promise<void>;
  /**
   * After prepare: how the worker's cache and artifact stages reach `projectDir`
   * (workspace-transfer.ts). Absent: jobs with `cache:` or `artifacts:` fail as unsupported.
   */
  workspace?(projectDir: string): WorkspaceTransfer;
  /**
   * Stages run on the worker's own host, as the worker's own user, in a login shell that adds
   * nothing a predefined stage's file work depends on (the shell executor without `--user`). Such
   * a stage that only prints fixed lines and makes or removes the project dir may be done by the
   * worker itself instead of a shell (get_sources with GIT_STRATEGY none or empty; issue 16).
   */
  readonly local?: boolean;
}

/**
 * An executor failure: not the script's fault (runner_system_failure by default), or a build
 * failure outside a stage (the custom executor's prepare_exec exiting with BUILD_FAILURE_EXIT_CODE,
 * GitLab's BuildError: script_failure with its exit code, never retried).
 */
export class ExecutorError extends Error {
  constructor(
    message: string,
    readonly failureReason:
      | "runner_system_failure"
      | "runner_configuration_error"
      | "image_pull_failure"
      | "script_failure" = "runner_system_failure",
    readonly exitCode?: number,
  ) {
    super(message);
    this.name = "ExecutorError";
  }
}
