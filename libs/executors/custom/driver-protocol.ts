// The custom executor's protocol with its driver, as GitLab Runner's executors/custom documents
// it: the JSON config_exec prints (builds_dir, cache_dir, builds_dir_is_shared, hostname, driver,
// job_env), the environment every driver call gets (BUILD_FAILURE_EXIT_CODE,
// SYSTEM_FAILURE_EXIT_CODE, TMPDIR, BUILD_EXIT_CODE_FILE, CUSTOM_ENV_<variable>) and what a
// driver's exit code means (command/command.go: 1 a build failure, 2 a system failure, anything
// else an unknown failure, which is a system failure too). Pure: the executor does the I/O.
import { z } from "zod";

export const BUILD_FAILURE_EXIT_CODE = 1;
export const SYSTEM_FAILURE_EXIT_CODE = 2;

const configOutputSchema = z.object({
  builds_dir: z.string().optional(),
  cache_dir: z.string().optional(),
  builds_dir_is_shared: z.boolean().optional(),
  hostname: z.string().optional(),
  driver: z.object({ name: z.string().optional(), version: z.string().optional() }).optional(),
  job_env: z.record(z.string(), z.string()).optional(),
  shell: z.string().optional(),
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

/** "Using Custom executor[ with driver <name>[ <version>]]...", GitLab's startup line. */
export function startupLine(driver: ConfigOutput["driver"]): string {
  if (!driver?.name) return "Using Custom executor...";
  if (!driver.version) return `Using Custom executor with driver ${driver.name}...`;
  return `Using Custom executor with driver ${driver.name} ${driver.version}...`;
}

/** The environment of one driver call, on top of the worker's minimal job environment. */
export function driverEnv(o: {
  tmpDir: string;
  variables: readonly { key: string; value: string }[];
  jobEnv?: Record<string, string>;
  buildExitCodeFile?: string;
  jobImage?: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  const env: Record<string, string> = {
    TMPDIR: o.tmpDir,
    BUILD_FAILURE_EXIT_CODE: String(BUILD_FAILURE_EXIT_CODE),
    SYSTEM_FAILURE_EXIT_CODE: String(SYSTEM_FAILURE_EXIT_CODE),
  };
  if (o.buildExitCodeFile) env.BUILD_EXIT_CODE_FILE = o.buildExitCodeFile;
  for (const v of o.variables) env[`CUSTOM_ENV_${v.key}`] = v.value;
  env.CUSTOM_ENV_CI_JOB_IMAGE = o.jobImage ?? "";
  return { ...env, ...o.extra, ...o.jobEnv };
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
