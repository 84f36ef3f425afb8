// The custom executor's driver protocol: config_exec's JSON, the startup line, the environment
// of a driver call and what its exit code means (GitLab's executors/custom).
import { describe, expect, test } from "bun:test";
import {
  classifyExit,
  driverEnv,
  parseConfigOutput,
  runExecStageName,
  startupLine,
} from "./driver-protocol.ts";

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

  test("null is an absent key and unknown keys are ignored, as Go's decoder does", () => {
    expect(parseConfigOutput('{"hostname":null,"driver":{"name":"d","version":null},"extra":1}')).toEqual({
      ok: true,
      config: { driver: { name: "d" } },
    });
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
    [{ name: "", version: "" }, "Using Custom executor with driver  ..."],
  ])("%p", (driver, want) => {
    expect(startupLine(driver)).toBe(want);
  });
});

describe("driver environment", () => {
  test("exit codes, TMPDIR, JOB_RESPONSE_FILE, job_env over them, CUSTOM_ENV_ over job_env", () => {
    const env = driverEnv({
      tmpDir: "/t",
      variables: [
        { key: "CI_JOB_ID", value: "7" },
        { key: "A", value: "a" },
      ],
      jobEnv: { A: "from-config", TMPDIR: "/driver-tmp", CUSTOM_ENV_A: "shadowed" },
      buildExitCodeFile: "/t/x/exit_code",
      jobResponseFile: "/t/response.json",
      jobImage: "alpine",
      extra: { STAGE: "s" },
    });
    expect(env).toEqual({
      TMPDIR: "/driver-tmp",
      BUILD_FAILURE_EXIT_CODE: "1",
      SYSTEM_FAILURE_EXIT_CODE: "2",
      BUILD_EXIT_CODE_FILE: "/t/x/exit_code",
      JOB_RESPONSE_FILE: "/t/response.json",
      CUSTOM_ENV_CI_JOB_ID: "7",
      CUSTOM_ENV_A: "a",
      CUSTOM_ENV_CI_JOB_IMAGE: "alpine",
      CUSTOM_ENV_CI_JOB_SERVICES: "",
      STAGE: "s",
      A: "from-config",
    });
  });

  test("CUSTOM_ENV_CI_JOB_SERVICES is GitLab's JSON: first alias, missing entrypoint and command as null", () => {
    const env = driverEnv({
      tmpDir: "/t",
      variables: [],
      services: [
        { name: "redis:latest", alias: "", entrypoint: [], command: [] },
        {
          name: "my-postgres:9.4",
          alias: "pg,db",
          entrypoint: ["path", "to", "entrypoint"],
          command: ["cmd"],
        },
      ],
    });
    expect(env.CUSTOM_ENV_CI_JOB_SERVICES).toBe(
      '[{"name":"redis:latest","alias":"","entrypoint":null,"command":null},{"name":"my-postgres:9.4","alias":"pg","entrypoint":["path","to","entrypoint"],"command":["cmd"]}]',
    );
  });
});

describe("run_exec stage names", () => {
  test.each([
    ["step_script", "build_script"],
    ["step_release", "step_release"],
    ["prepare_script", "prepare_script"],
    ["after_script", "after_script"],
    ["archive_cache", "archive_cache"],
  ])("%s is handed to the driver as %s", (stage, want) => {
    expect(runExecStageName(stage)).toBe(want);
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
