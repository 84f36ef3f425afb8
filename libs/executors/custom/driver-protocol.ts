// The custom executor's protocol with its driver, as GitLab Runner's executors/custom documents
// it: the JSON config_exec prints (builds_dir, cache_dir, builds_dir_is_shared, hostname, driver,
// job_env, shell), the environment every driver call gets (BUILD_FAILURE_EXIT_CODE,
// SYSTEM_FAILURE_EXIT_CODE, TMPDIR, BUILD_EXIT_CODE_FILE, JOB_RESPONSE_FILE, job_env, then
// CUSTOM_ENV_<variable> and CUSTOM_ENV_CI_JOB_SERVICES), the stage name run_exec gets, and what a
// driver's exit code means (command/command.go: 1 a build failure, 2 a system failure, anything
// else an unknown failure, which is a system failure too). Pure: the executor does the I/O.
import { z } from "zod";

export const BUILD_FAILURE_EXIT_CODE = 1;
export const SYSTEM_FAILURE_EXIT_CODE = 2;

/** A Go pointer field: null reads as absent, as encoding/json leaves the pointer nil. */
const opt = <T extends z.ZodType>(t: T) =>
  t
    .nullish()
    .transform((v) => v ?? undefined)
    .optional();

// Other keys are ignored, as GitLab's json.Unmarshal ignores them.
const configOutputSchema = z.object({
  builds_dir: opt(z.string()),
  cache_dir: opt(z.string()),
  builds_dir_is_shared: opt(z.boolean()),
  hostname: opt(z.string()),
  driver: opt(z.object({ name: opt(z.string()), version: opt(z.string()) })),
  job_env: opt(z.record(z.string(), z.string())),
  shell: opt(z.string()),
});

export type ConfigOutput = z.output<typeof configOutputSchema>;

/** config_exec's stdout: empty means no overrides; anything else must be GitLab's JSON object. */
export function parseConfigOutput(
  stdout: string,
): { ok: true; config: ConfigOutput } | { ok: false; error: string } {
  if (stdout.trim() === "") return { ok: true, config: {} };
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch (error) {
    return { ok: false, error: `error while parsing JSON output: ${(error as Error).message}` };
  }
  const parsed = configOutputSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      error: `error while parsing JSON output: ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`,
    };
  }
  return { ok: true, config: parsed.data };
}

/**
 * "Using Custom executor[ with driver <name>[ <version>]]...", GitLab's startup line: a name or
 * version given, even empty, is printed (GitLab tests the pointers, not the strings).
 */
export function startupLine(driver: ConfigOutput["driver"]): string {
  if (driver?.name === undefined) return "Using Custom executor...";
  if (driver.version === undefined) return `Using Custom executor with driver ${driver.name}...`;
  return `Using Custom executor with driver ${driver.name} ${driver.version}...`;
}

/**
 * The stage name run_exec gets: GitLab Runner still hands step_script to drivers as
 * build_script (executors/custom/custom.go, epic 6112), every other stage by its own name.
 */
export function runExecStageName(stage: string): string {
  return stage === "step_script" ? "build_script" : stage;
}

/** A service as CUSTOM_ENV_CI_JOB_SERVICES lists it (GitLab's jsonService). */
export interface ServiceForDriver {
  name: string;
  alias: string;
  entrypoint: readonly string[];
  command: readonly string[];
}

/**
 * CI_JOB_SERVICES: empty without services, else GitLab's JSON array (the first alias, a missing
 * entrypoint or command as null).
 */
export function jobServicesValue(services: readonly ServiceForDriver[]): string {
  if (services.length === 0) return "";
  return JSON.stringify(
    services.map((s) => ({
      name: s.name,
      alias: s.alias.split(/[\s,]+/).find((a) => a !== "") ?? "",
      entrypoint: s.entrypoint.length > 0 ? s.entrypoint : null,
      command: s.command.length > 0 ? s.command : null,
    })),
  );
}

/**
 * The environment of one driver call, on top of the worker's minimal job environment, in GitLab's
 * order (later wins): the protocol's own variables, job_env (which may override them), then the
 * job's variables as CUSTOM_ENV_<key>, which job_env cannot shadow.
 */
export function driverEnv(o: {
  tmpDir: string;
  variables: readonly { key: string; value: string }[];
  jobEnv?: Record<string, string>;
  buildExitCodeFile?: string;
  jobResponseFile?: string;
  jobImage?: string;
  services?: readonly ServiceForDriver[];
  extra?: Record<string, string>;
}): Record<string, string> {
  const env: Record<string, string> = {
    TMPDIR: o.tmpDir,
    BUILD_FAILURE_EXIT_CODE: String(BUILD_FAILURE_EXIT_CODE),
    SYSTEM_FAILURE_EXIT_CODE: String(SYSTEM_FAILURE_EXIT_CODE),
  };
  if (o.buildExitCodeFile) env.BUILD_EXIT_CODE_FILE = o.buildExitCodeFile;
  if (o.jobResponseFile) env.JOB_RESPONSE_FILE = o.jobResponseFile;
  Object.assign(env, o.extra, o.jobEnv);
  for (const v of o.variables) env[`CUSTOM_ENV_${v.key}`] = v.value;
  env.CUSTOM_ENV_CI_JOB_SERVICES = jobServicesValue(o.services ?? []);
  env.CUSTOM_ENV_CI_JOB_IMAGE = o.jobImage ?? "";
  return env;
}

export type DriverExit =
  | { kind: "success" }
  | { kind: "build_failure"; exitCode: number }
  | { kind: "system_failure" }
  | { kind: "unknown"; message: string };

/**
 * What a driver's exit means. A build failure's exit code is the one the driver wrote to
 * BUILD_EXIT_CODE_FILE (GitLab's way to keep `allow_failure: exit_codes` working), else 1; a file
 * holding anything but an integer is GitLab's "unknown Custom executor executable exit code".
 */
export function classifyExit(code: number, exitCodeFile?: string): DriverExit {
  if (code === 0) return { kind: "success" };
  if (code === SYSTEM_FAILURE_EXIT_CODE) return { kind: "system_failure" };
  if (code !== BUILD_FAILURE_EXIT_CODE)
    return { kind: "unknown", message: `unknown Custom executor executable exit code ${code}` };
  if (exitCodeFile === undefined || exitCodeFile.trim() === "")
    return { kind: "build_failure", exitCode: BUILD_FAILURE_EXIT_CODE };
  const text = exitCodeFile.trim();
  if (!/^-?\d+$/.test(text))
    return {
      kind: "unknown",
      message: `unknown Custom executor executable exit code: BUILD_EXIT_CODE_FILE holds ${JSON.stringify(text.slice(0, 40))}, not an integer`,
    };
  return { kind: "build_failure", exitCode: Number(text) };
}
