import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseConfig } from "./parse-config.ts";
import { runnerSettingsSchema } from "./runner-schema.ts";
import { workerRunnerSettings } from "./worker-settings.ts";

const text = await Bun.file(join(import.meta.dir, "fixtures/seed-examples.toml")).text();
const { config } = parseConfig(text, { source: "seed-examples.toml", hostname: "h" });

// Every secret value the fixture holds that a worker must never see.
const SECRETS = [
  "glrt-t1_AbCdEfGhIjKlMnOp",
  "AWS_S3_ACCESS_KEY",
  "AWS_S3_SECRET_KEY",
  "AWS_S3_SESSION_TOKEN",
  "cache-access-account@test-project-123456.iam.gserviceaccount.com",
  "BEGIN PRIVATE KEY",
  "/etc/gitlab-runner/service-account.json",
  "<AZURE STORAGE ACCOUNT NAME>",
  "<AZURE STORAGE ACCOUNT KEY>",
  "/home/user/.aws/credentials",
];

describe("workerRunnerSettings", () => {
  test("the fixture really holds every secret (so the next test can fail)", () => {
    const all = JSON.stringify(config.runners);
    for (const secret of SECRETS) expect(all).toContain(secret);
  });

  test("strips the token, token dates, cache credentials and plugin_config from every runner", () => {
    for (const runner of config.runners) {
      const settings = workerRunnerSettings(runner);
      const serialized = JSON.stringify(settings);
      for (const secret of SECRETS) expect(serialized).not.toContain(secret);
      for (const key of ["token", "token_obtained_at", "token_expires_at"])
        expect(settings).not.toHaveProperty(key);
      expect(serialized).not.toMatch(
        /"(AccessKey|SecretKey|SessionToken|PrivateKey|CredentialsFile|AccessID|AccountKey|AccountName|plugin_config)"/,
      );
    }
  });

  test("keeps everything a worker needs to run the job", () => {
    const runner = config.runners.find((r) => r.name === "ruby-3.3-docker")!;
    const settings = workerRunnerSettings(runner);
    expect(settings.url).toBe("https://CI");
    expect(settings.executor).toBe("docker");
    expect(settings.docker).toEqual(runner.docker);
    expect(settings.cache as unknown).toEqual({
      Type: "s3",
      Path: "path/to/prefix",
      Shared: false,
      s3: {
        ServerAddress: "s3.amazonaws.com",
        BucketName: "runners-cache",
        BucketLocation: "eu-west-1",
        Insecure: false,
        ServerSideEncryption: "KMS",
        ServerSideEncryptionKeyID: "alias/my-key",
        DualStack: true,
      },
    });
    expect(settings.unhealthy_interval_ms).toBe(runner.unhealthy_interval_ms);
    expect(settings.feature_flags).toEqual(runner.feature_flags);
  });

  test("survives the bus: JSON and back through runnerSettingsSchema gives the same settings", () => {
    for (const runner of config.runners) {
      const settings = workerRunnerSettings(runner);
      expect(runnerSettingsSchema.parse(JSON.parse(JSON.stringify(settings)))).toEqual(settings);
    }
  });
});
