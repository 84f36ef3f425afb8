import { describe, expect, test } from "bun:test";
import { shellProvider } from "../executors/shell/provider.ts";
import { placeJob, planJob } from "./job-plan.ts";
import { parseJobPayload } from "./payload.ts";
import type { RunnerSettings } from "./runner-settings.ts";
import { findVariable } from "./variables.ts";

function job(variables: { key: string; value: string; masked?: boolean }[] = [], extra = {}) {
  const parsed = parseJobPayload(
    JSON.stringify({
      id: 7,
      token: "t",
      git_info: { repo_url: "https://gitlab.example.com/group/proj.git" },
      job_info: { project_id: 3 },
      runner_info: { timeout: 600 },
      features: { token_mask_prefixes: ["glpat-"] },
      variables,
      ...extra,
    }),
  );
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.job;
}

const shared = { buildsDir: "/b", cacheDir: "/c", sharedBuildsDir: true, locksDir: "/b" };
const own = { buildsDir: "/builds", cacheDir: "/cache", sharedBuildsDir: false, locksDir: "/w/locks" };
const settings: RunnerSettings = { name: "r", short_token: "tok", executor: "shell" };
const plan = (vars = [] as Parameters<typeof job>[0], s: RunnerSettings = settings, layout = shared) =>
  planJob(job(vars), s, { executor: shellProvider, layout });
const slot = { concurrentId: 2, concurrentProjectId: 1 };
const inputs = { version: "1", revision: "r", arch: "linux/amd64" };

describe("planJob: decided once for the trace pipeline and the stage machine", () => {
  test("masks are the expanded masked values, with the job's token prefixes and the default-token flag", () => {
    const p = plan(
      [
        { key: "SECRET", value: "s3cr3t-$SUFFIX", masked: true },
        { key: "SUFFIX", value: "x1" },
      ],
      { ...settings, environment: ["OTHER=1"] },
    );
    expect(p.masking).toEqual({
      phrases: ["s3cr3t-x1"],
      tokenPrefixes: ["glpat-"],
      maskAllDefaultTokens: true,
    });
  });

  test("flags: runner config over job variable over default; the header lists the non-defaults", () => {
    const p = plan(
      [
        { key: "FF_TIMESTAMPS", value: "false" },
        { key: "FF_SCRIPT_SECTIONS", value: "true" },
      ],
      {
        ...settings,
        feature_flags: { FF_SCRIPT_SECTIONS: false },
      },
    );
    expect(p.timestamps).toBe(false);
    expect(p.featureFlags.FF_SCRIPT_SECTIONS).toBe(false);
    expect(p.nonDefaultFlags).toBe("FF_TIMESTAMPS:false");
  });

  test.each([
    [[{ key: "CI_DEBUG_TRACE", value: "true" }], false, true, []],
    [[{ key: "CI_DEBUG_SERVICES", value: "1" }], false, true, []],
    [[{ key: "CI_DEBUG_TRACE", value: "nope" }], false, false, []],
    [
      [{ key: "CI_DEBUG_TRACE", value: "true" }],
      true,
      false,
      ["CI_DEBUG_TRACE: usage is disabled on this Runner"],
    ],
  ])("debug trace from %j, disabled=%p: %p with warnings %j", (vars, disabled, on, warnings) => {
    const p = plan(vars, { ...settings, debug_trace_disabled: disabled });
    expect(p.debugTrace).toBe(on);
    expect(p.warnings.settings).toEqual(warnings);
  });

  test("attempts, timeouts and after_script errors come from the job's variables, with GitLab's warnings", () => {
    const p = plan([
      { key: "GET_SOURCES_ATTEMPTS", value: "12" },
      { key: "RESTORE_CACHE_ATTEMPTS", value: "2" },
      { key: "RUNNER_SCRIPT_TIMEOUT", value: "5m" },
      { key: "AFTER_SCRIPT_IGNORE_ERRORS", value: "false" },
    ]);
    expect(p.attempts).toEqual({ getSources: 10, artifactDownload: 1, restoreCache: 2 });
    expect(p.warnings.settings).toEqual([
      "GET_SOURCES_ATTEMPTS: number of attempts out of the range [1, 10], clamping to: 10",
    ]);
    expect(p.timeouts).toEqual({ jobSeconds: 600, script: "5m", afterScript: "" });
    expect(p.afterScriptIgnoreErrors).toBe(false);
    expect(plan().afterScriptIgnoreErrors).toBe(true);
  });

  test("the shell: the entry's, else the executor's default; one the executor lacks is a configuration error", () => {
    expect(plan([], { ...settings, shell: "" }).shell).toBe("bash");
    expect(plan([], { ...settings, shell: "sh" }).configError).toBeUndefined();
    expect(plan([], { ...settings, shell: "pwsh" }).configError).toBe(
      'shell "pwsh" is not supported by the runmesh shell executor; use shell = "bash" or "sh"',
    );
  });

  test("output limit: output_limit KiB, GitLab's 4096 KiB when unset or not positive", () => {
    expect(plan([], { ...settings, output_limit: 64 }).outputLimitBytes).toBe(64 * 1024);
    expect(plan([], { ...settings, output_limit: 0 }).outputLimitBytes).toBe(4096 * 1024);
  });
});

describe("placeJob: the planned job in its slot", () => {
  test("a shared builds dir carries the short token and the slot; a job's own does not", () => {
    expect(placeJob(plan(), slot, inputs).projectDir).toBe("/b/tok/1/group/proj");
    const placed = placeJob(plan([], settings, own), slot, inputs);
    expect(placed.projectDir).toBe("/builds/group/proj");
    expect(findVariable(placed.variables, "CI_DISPOSABLE_ENVIRONMENT")?.value).toBe("true");
    expect(findVariable(placeJob(plan(), slot, inputs).variables, "CI_SHARED_ENVIRONMENT")?.value).toBe(
      "true",
    );
  });

  test.each([
    [
      false,
      "/b/custom/dir",
      "setting GIT_CLONE_PATH is not allowed, enable `custom_build_dir` feature",
      undefined,
    ],
    [true, "/elsewhere", 'the GIT_CLONE_PATH="/elsewhere" has to be within "/b"', undefined],
    [true, "$CI_BUILDS_DIR/custom/dir", undefined, "/b/custom/dir"],
  ])("GIT_CLONE_PATH with custom_build_dir=%p: %s", (enabled, path, error, dir) => {
    const p = plan([{ key: "GIT_CLONE_PATH", value: path }], { ...settings, custom_build_dir: { enabled } });
    const placed = placeJob(p, slot, inputs);
    expect(placed.clonePathError).toBe(error);
    if (dir) expect(placed.projectDir).toBe(dir);
  });

  test("after_script's variables differ only in CI_JOB_STATUS", () => {
    const placed = placeJob(plan(), slot, inputs);
    const after = placed.variablesFor("canceled");
    expect(findVariable(after, "CI_JOB_STATUS")?.value).toBe("canceled");
    expect(after.filter((v) => v.key !== "CI_JOB_STATUS")).toEqual(
      placed.variables.filter((v) => v.key !== "CI_JOB_STATUS"),
    );
  });
});
