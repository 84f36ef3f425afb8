import { describe, expect, test } from "bun:test";
import type { JobVariable } from "./payload.ts";
import {
  buildJobVariables,
  expandValue,
  expandVariables,
  findVariable,
  lookupForExpansion,
  maskedValues,
  nonDefaultFeatureFlags,
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
    const list = buildJobVariables(
      [jv("MY", "job"), jv("FF_TIMESTAMPS", "false"), jv("CI_SERVER", "job-says")],
      {
        ...base,
        environment: ["MY=runner", "OTHER=o"],
        featureFlags: { FF_TIMESTAMPS: true },
        tlsCaContent: "PEM",
        imageName: "alpine",
      },
    );
    expect(list.map((v) => v.key)).toEqual([
      "FF_TIMESTAMPS",
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
    // The resolved flag stands: the job's own FF_TIMESTAMPS is not in the list at all.
    expect(list.filter((v) => v.key === "FF_TIMESTAMPS")).toEqual([{ key: "FF_TIMESTAMPS", value: "true" }]);
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

  test("runner config beats the job variable, which beats the default; unparsable values warn", () => {
    const { flags, warnings } = resolveFeatureFlags(
      { FF_TIMESTAMPS: false, FF_RUNMESH_UNKNOWN: true },
      [
        jv("FF_TIMESTAMPS", "true"),
        jv("FF_SCRIPT_SECTIONS", "1"),
        jv("FF_POSIXLY_CORRECT_ESCAPES", "maybe"),
        jv("NOT_FF", "true"),
      ],
      ["FF_USE_FASTZIP=true"],
    );
    expect(flags.FF_TIMESTAMPS).toBe(false);
    expect(flags.FF_SCRIPT_SECTIONS).toBe(true);
    expect(flags.FF_POSIXLY_CORRECT_ESCAPES).toBe(false);
    expect(flags.FF_USE_FASTZIP).toBe(true);
    expect(flags.FF_MASK_ALL_DEFAULT_TOKENS).toBe(true);
    expect(flags.FF_RUNMESH_UNKNOWN).toBe(true);
    expect(flags.NOT_FF).toBeUndefined();
    expect(warnings).toEqual([
      "FF_POSIXLY_CORRECT_ESCAPES: could not parse feature flag, expected bool, got maybe",
    ]);
    // GitLab's order: the header line lists non-default values in it.
    expect(nonDefaultFeatureFlags(flags)).toBe(
      "FF_USE_FASTZIP:true, FF_SCRIPT_SECTIONS:true, FF_TIMESTAMPS:false, FF_RUNMESH_UNKNOWN:true",
    );
  });
});

describe("maskedValues", () => {
  test("masked values are expanded against job and runner variables; raw and empty ones handled", () => {
    const job = {
      variables: [
        jv("PASSWORD", "hunter2", { masked: true }),
        jv("URL", "https://u:$PASSWORD@host/$SUFFIX", { masked: true }),
        jv("RAW", "$PASSWORD", { masked: true, raw: true }),
        jv("EMPTY", "", { masked: true }),
        jv("PLAIN", "visible"),
      ],
    };
    expect(maskedValues(job, { environment: ["SUFFIX=from-runner"] })).toEqual([
      "hunter2",
      "https://u:hunter2@host/from-runner",
      "$PASSWORD",
    ]);
  });

  test("TLS client certificate and key are file variables only as a pair; the key is not public", () => {
    const base = {
      buildsDir: "/b",
      projectDir: "/b/p",
      concurrentId: 0,
      concurrentProjectId: 0,
      jobTimeoutSeconds: 1,
      shortToken: "t",
      sharedEnvironment: true,
      version: "v",
      revision: "r",
      arch: "linux/amd64",
    };
    const both = buildJobVariables([], { ...base, tlsCertContent: "CERT", tlsKeyContent: "KEY" });
    expect(findVariable(both, "CI_SERVER_TLS_CERT_FILE")).toMatchObject({
      value: "CERT",
      file: true,
      public: true,
    });
    expect(findVariable(both, "CI_SERVER_TLS_KEY_FILE")).toMatchObject({ value: "KEY", file: true });
    expect(findVariable(both, "CI_SERVER_TLS_KEY_FILE")?.public).toBeUndefined();
    const certOnly = buildJobVariables([], { ...base, tlsCertContent: "CERT" });
    expect(findVariable(certOnly, "CI_SERVER_TLS_CERT_FILE")).toBeUndefined();
  });
});
