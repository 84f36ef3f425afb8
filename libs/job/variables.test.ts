import { describe, expect, test } from "bun:test";
import type { JobVariable } from "./payload.ts";
import {
  buildJobVariables,
  expandValue,
  expandVariables,
  findVariable,
  lookupForExpansion,
  parseEnvironmentEntries,
  resolveFeatureFlags,
  type Variable,
} from "./variables.ts";

const jv = (key: string, value: string, extra: Partial<JobVariable> = {}): JobVariable => ({
  key,
  value,
  public: false,
  file: false,
  masked: false,
  raw: false,
  ...extra,
});

describe("expandValue (Go's os.Expand with GitLab's lookup)", () => {
  const vars: Variable[] = [
    { key: "A", value: "a" },
    { key: "B_2", value: "b" },
    { key: "A", value: "later" },
    { key: "F", value: "content", file: true },
  ];
  const lookup = (k: string) => lookupForExpansion(vars, "/b/p", k);
  test.each([
    ["plain", "plain"],
    ["$A", "later"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax under test
    ["${A}x", "laterx"],
    ["$Ax", ""],
    ["$B_2-$A", "b-later"],
    ["$$A", "$A"],
    ["cost: 5$", "cost: 5$"],
    ["$ alone", "$ alone"],
    ["$1$*$#$?", ""],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax under test
    ["${}", ""],
    ["${A", "A"],
    ["$UNKNOWN!", "!"],
    ["$F", "/b/p.tmp/F"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax under test
    ["${-}x", "x"],
  ])("%j ⇒ %j", (input, expected) => {
    expect(expandValue(input, lookup)).toBe(expected);
  });
});

describe("expandVariables", () => {
  test("expands once against the unexpanded list; raw variables stay literal", () => {
    const out = expandVariables(
      [
        { key: "X", value: "$Y" },
        { key: "Y", value: "$Z" },
        { key: "Z", value: "z" },
        { key: "R", value: "$Z", raw: true },
      ],
      "/p",
    );
    expect(out.map((v) => v.value)).toEqual(["$Z", "z", "z", "$Z"]);
  });
});

describe("buildJobVariables", () => {
  const base = {
    buildsDir: "/builds",
    projectDir: "/builds/tok/0/g/p",
    concurrentId: 2,
    concurrentProjectId: 1,
    jobTimeoutSeconds: 3600,
    shortToken: "tok",
    sharedEnvironment: true,
    version: "0.1.0",
    revision: "rev",
    arch: "amd64",
  };

  test("built-ins come in GitLab's order and a job variable overrides a runner one", () => {
    const list = buildJobVariables([jv("MY", "job"), jv("FF_X", "true"), jv("CI_SERVER", "job-says")], {
      ...base,
      environment: ["MY=runner", "OTHER=o"],
      featureFlags: { FF_X: true },
      tlsCaContent: "PEM",
      imageName: "alpine",
    });
    expect(list.map((v) => v.key)).toEqual([
      "FF_X",
      "CI_JOB_IMAGE",
      "CI_RUNNER_SHORT_TOKEN",
      "MY",
      "OTHER",
      "CI_BUILDS_DIR",
      "CI_PROJECT_DIR",
      "CI_CONCURRENT_ID",
      "CI_CONCURRENT_PROJECT_ID",
      "CI_SERVER",
      "CI_JOB_STATUS",
      "CI_JOB_TIMEOUT",
      "CI_SERVER_TLS_CA_FILE",
      "MY",
      "CI_SERVER",
      "CI_SHARED_ENVIRONMENT",
      "CI_RUNNER_VERSION",
      "CI_RUNNER_REVISION",
      "CI_RUNNER_EXECUTABLE_ARCH",
      "RUNNER_TEMP_PROJECT_DIR",
    ]);
    expect(findVariable(list, "MY")?.value).toBe("job");
    expect(findVariable(list, "CI_CONCURRENT_ID")?.value).toBe("2");
    expect(findVariable(list, "CI_JOB_STATUS")?.value).toBe("running");
    expect(findVariable(list, "CI_SERVER_TLS_CA_FILE")?.file).toBe(true);
    expect(findVariable(list, "RUNNER_TEMP_PROJECT_DIR")?.value).toBe("/builds/tok/0/g/p.tmp");
  });

  test("a disposable environment says so", () => {
    const list = buildJobVariables([], { ...base, sharedEnvironment: false, jobStatus: "failed" });
    expect(findVariable(list, "CI_DISPOSABLE_ENVIRONMENT")?.value).toBe("true");
    expect(findVariable(list, "CI_SHARED_ENVIRONMENT")).toBeUndefined();
    expect(findVariable(list, "CI_JOB_STATUS")?.value).toBe("failed");
  });
});

describe("runner environment entries and feature flags", () => {
  test("entries split on the first '=', entries without one are dropped", () => {
    expect(parseEnvironmentEntries(["A=1", "B=x=y", "C=", "NOPE", "=v"])).toEqual([
      { key: "A", value: "1" },
      { key: "B", value: "x=y" },
      { key: "C", value: "" },
    ]);
  });

  test("runner config beats the job variable; unparsable job values are ignored", () => {
    expect(
      resolveFeatureFlags({ FF_A: false }, [
        jv("FF_A", "true"),
        jv("FF_B", "1"),
        jv("FF_C", "maybe"),
        jv("NOT_FF", "true"),
      ]),
    ).toEqual({ FF_A: false, FF_B: true });
  });
});
