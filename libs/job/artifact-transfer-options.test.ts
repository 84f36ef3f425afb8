// The artifact stages' tuning from job variables: the project URL the attestation names (no
// credentials ever), which inputs it takes, and which knobs reach the writer and the meter.
import { describe, expect, test } from "bun:test";
import {
  attestationInputs,
  downloadOptions,
  projectUrl,
  uploadOptions,
} from "./artifact-transfer-options.ts";
import type { JobLog } from "./job-log.ts";
import type { JobPlan, Placement } from "./job-plan.ts";

const plan = {
  job: {
    git_info: {
      repo_url: "https://gitlab-ci-token:glcbt-secret-123@gitlab.example.com/group/project.git",
      sha: "0123456789abcdef0123456789abcdef01234567",
    },
    job_info: { name: "build" },
  },
  executorName: "shell",
  settings: { name: "runner-a" },
} as unknown as JobPlan;

const placed = (vars: Record<string, string>) =>
  ({ variables: Object.entries(vars).map(([key, value]) => ({ key, value })) }) as unknown as Placement;

const log = () => {
  const warnings: string[] = [];
  return { warnings, log: { warning: (t: string) => warnings.push(t) } as unknown as JobLog };
};

describe("artifact transfer options", () => {
  test.each([
    ["https://gitlab-ci-token:abc@gitlab.example.com/g/p.git", "https://gitlab.example.com/g/p"],
    ["https://gitlab.example.com/g/p", "https://gitlab.example.com/g/p"],
    ["http://user@host:8080/a/b.git", "http://host:8080/a/b"],
  ])("projectUrl(%p) = %p", (url, want) => expect(projectUrl(url)).toBe(want));

  test("attestation inputs: runner id, clean project URL, commit, names of every variable, CI_JOB_STARTED_AT", () => {
    const inputs = attestationInputs(
      plan,
      placed({ CI_RUNNER_ID: "42", CI_JOB_STARTED_AT: "2026-01-02T03:04:05Z", DEPLOY_KEY: "s3cr3t" }),
    );
    expect(inputs.runnerId).toBe("42");
    expect(inputs.repoUrl).toBe("https://gitlab.example.com/group/project");
    expect(inputs.repoDigest).toBe("0123456789abcdef0123456789abcdef01234567");
    expect(inputs.parameters).toEqual(["CI_RUNNER_ID", "CI_JOB_STARTED_AT", "DEPLOY_KEY"]);
    expect(inputs.startedAt.toISOString()).toBe("2026-01-02T03:04:05.000Z");
    expect(JSON.stringify(inputs)).not.toContain("s3cr3t");
    expect(JSON.stringify(inputs)).not.toContain("glcbt-secret-123");
  });

  test("upload options: attestation only when RUNNER_GENERATE_ARTIFACTS_METADATA is true; knobs and level pass through", () => {
    const off = uploadOptions(plan, placed({}), log().log);
    expect(off.attestation).toBeUndefined();
    expect(off.meterFrequencyMs).toBe(0);
    expect(off.compressionLevel).toBe(5);
    const l = log();
    const on = uploadOptions(
      plan,
      placed({
        RUNNER_GENERATE_ARTIFACTS_METADATA: "true",
        ARTIFACT_COMPRESSION_LEVEL: "fastest",
        FASTZIP_ARCHIVER_CONCURRENCY: "3",
        FASTZIP_ARCHIVER_BUFFER_SIZE: "lots",
        TRANSFER_METER_FREQUENCY: "2s",
      }),
      l.log,
    );
    expect(on.attestation?.jobName).toBe("build");
    expect(on.compressionLevel).toBe(0);
    expect(on.zip?.concurrency).toBe(3);
    expect(on.zip?.bufferSize).toBe(2 * 1024 * 1024);
    expect(on.meterFrequencyMs).toBe(2000);
    expect(l.warnings).toEqual([
      'FASTZIP_ARCHIVER_BUFFER_SIZE: expected an integer ≥ 0, got "lots"; using 2097152',
    ]);
  });

  test("download options: FASTZIP_EXTRACTOR_CONCURRENCY and the meter", () => {
    expect(
      downloadOptions(placed({ FASTZIP_EXTRACTOR_CONCURRENCY: "5", TRANSFER_METER_FREQUENCY: "1m" })),
    ).toEqual({ extractConcurrency: 5, meterFrequencyMs: 60_000 });
  });
});
