// The custom executor's driver protocol: config_exec's JSON, the startup line, the environment
// of a driver call and what its exit code means (GitLab's executors/custom).
import { describe, expect, test } from "bun:test";
import { classifyExit, driverEnv, parseConfigOutput, startupLine } from "./driver-protocol.ts";

describe("config_exec output", () => {
  test("GitLab's documented keys are read", () => {
    const r = parseConfigOutput(
      JSON.stringify({
        builds_dir: "/builds",
        cache_dir: "/cache",
        builds_dir_is_shared: true,
        hostname: "custom-hostname",
        driver: { name: "test driver", version: "v0.0.1" },
        job_env: { CUSTOM_ENVIRONMENT: "example" },
      }),
    );
    expect(r).toEqual({
      ok: true,
      config: {
        builds_dir: "/builds",
        cache_dir: "/cache",
        builds_dir_is_shared: true,
        hostname: "custom-hostname",
        driver: { name: "test driver", version: "v0.0.1" },
        job_env: { CUSTOM_ENVIRONMENT: "example" },
      },
    });
  });

  test.each([
    ["empty output: no overrides", "", true],
    ["blank output: no overrides", " \n", true],
    ["not JSON", "builds_dir=/b", false],
    ["a wrong type", '{"builds_dir_is_shared":"yes"}', false],
  ])("%s", (_n, out, ok) => {
    expect(parseConfigOutput(out).ok).toBe(ok);
  });

  test("a wrong type names the key", () => {
    const r = parseConfigOutput('{"job_env":{"A":1}}');
    expect(r.ok ? "" : r.error).toContain("job_env.A");
  });
});

describe("startup line", () => {
  test.each([
    [undefined, "Using Custom executor..."],
    [{ version: "1" }, "Using Custom executor..."],
    [{ name: "d" }, "Using Custom executor with driver d..."],
    [{ name: "d", version: "v1" }, "Using Custom executor with driver d v1..."],
  ])("%p", (driver, want) => {
    expect(startupLine(driver)).toBe(want);
  });
});

describe("driver environment", () => {
  test("exit codes, TMPDIR, CUSTOM_ENV_ for every variable, job_env last", () => {
    const env = driverEnv({
      tmpDir: "/t",
      variables: [
        { key: "CI_JOB_ID", value: "7" },
        { key: "A", value: "a" },
      ],
      jobEnv: { A: "from-config", TMPDIR: "/driver-tmp" },
      buildExitCodeFile: "/t/x/exit_code",
      jobImage: "alpine",
      extra: { STAGE: "s" },
    });
    expect(env).toEqual({
      TMPDIR: "/driver-tmp",
      BUILD_FAILURE_EXIT_CODE: "1",
      SYSTEM_FAILURE_EXIT_CODE: "2",
      BUILD_EXIT_CODE_FILE: "/t/x/exit_code",
      CUSTOM_ENV_CI_JOB_ID: "7",
      CUSTOM_ENV_A: "a",
      CUSTOM_ENV_CI_JOB_IMAGE: "alpine",
      STAGE: "s",
      A: "from-config",
    });
  });
});

describe("driver exit codes", () => {
  test.each([
    [0, undefined, { kind: "success" }],
    [1, undefined, { kind: "build_failure", exitCode: 1 }],
    [1, "42\n", { kind: "build_failure", exitCode: 42 }],
    [1, "", { kind: "build_failure", exitCode: 1 }],
    [2, "42", { kind: "system_failure" }],
    [7, undefined, { kind: "unknown", message: "unknown Custom executor executable exit code 7" }],
  ] as const)("exit %d, BUILD_EXIT_CODE_FILE %p", (code, file, want) => {
    expect(classifyExit(code, file)).toEqual(want);
  });

  test("a BUILD_EXIT_CODE_FILE that holds more than an integer is an unknown failure", () => {
    expect(classifyExit(1, "42 because").kind).toBe("unknown");
  });
});
