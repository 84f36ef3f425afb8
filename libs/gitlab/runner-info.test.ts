import { describe, expect, test } from "bun:test";
import { advertisedFeatures } from "./advertised-features.ts";
import { ALL_FEATURE_KEYS, buildRunnerInfo, goArchitecture } from "./runner-info.ts";

describe("buildRunnerInfo", () => {
  const info = buildRunnerInfo({
    version: "0.1.0",
    revision: "abc",
    executor: "shell",
    shell: "bash",
    features: { cancel_gracefully: true, trace_checksum: true, image: false },
  });

  test("serialises every feature key, false included", () => {
    expect(Object.keys(info.features)).toEqual([...ALL_FEATURE_KEYS]);
    expect(info.features.cancel_gracefully).toBe(true);
    expect(info.features.trace_checksum).toBe(true);
    expect(info.features.image).toBe(false);
    expect(info.features.two_phase_job_commit).toBe(false);
    expect(JSON.parse(JSON.stringify(info)).features.job_inputs).toBe(false);
  });

  test("carries runmesh's identity and GitLab Runner's field shapes", () => {
    expect(info).toMatchObject({
      name: "runmesh",
      version: "0.1.0",
      revision: "abc",
      platform: "linux",
      executor: "shell",
      shell: "bash",
      config: { gpus: "" },
    });
    expect(["amd64", "arm64"]).toContain(info.architecture);
    expect("labels" in info).toBe(false);
  });

  test("labels are sent only when there are some", () => {
    const withLabels = buildRunnerInfo({
      version: "1",
      revision: "r",
      executor: "shell",
      shell: "bash",
      features: {},
      labels: { zone: "a" },
    });
    expect(withLabels.labels).toEqual({ zone: "a" });
  });

  test("knows the same feature keys as runmesh's feature table", () => {
    expect(new Set(Object.keys(advertisedFeatures()))).toEqual(new Set(ALL_FEATURE_KEYS));
  });
});

test.each([
  ["x64", "amd64"],
  ["arm64", "arm64"],
  ["ia32", "386"],
  ["arm", "arm"],
])("Node arch %s is GOARCH %s", (arch, goarch) => {
  expect(goArchitecture(arch)).toBe(goarch);
});
