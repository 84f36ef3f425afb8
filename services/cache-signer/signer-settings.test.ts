// What the signer takes from config.toml: each signed-cache entry's short token and cache table with
// its credentials, and [mesh]; never a full runner token, never another entry's settings.
import { describe, expect, test } from "bun:test";
import { createVerify, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gcsPutHeaders, gcsStringToSign } from "../../libs/cache/gcs-sign.ts";
import { ConfigError, parseConfig, shortToken } from "../../libs/config/index.ts";
import { openedJobRecordSchema } from "../../libs/messages/subjects.ts";
import { decideSign } from "./sign-decision.ts";
import { signerCaches } from "./signed-caches.ts";
import { parseSignerSettings } from "./signer-settings.ts";

const S3_TOKEN = "glrt-signer-config-0123456789";
const AZ_TOKEN = "glrt-azure-config-9876543210";
const toml = `
concurrent = 1
log_level = "debug"
[mesh]
nats_url = "nats://127.0.0.1:4222"
[[runners]]
name = "s3"
url = "https://gitlab.example.com"
token = "${S3_TOKEN}"
executor = "shell"
[runners.cache]
Type = "s3"
Shared = true
[runners.cache.s3]
ServerAddress = "127.0.0.1:9000"
BucketName = "b"
AccessKey = "AKIAEXAMPLE"
SecretKey = "super-secret-value"
[[runners]]
name = "azure"
url = "https://gitlab.example.com"
token = "$AZ_TOKEN_VAR"
executor = "docker"
[runners.docker]
image = "alpine"
[runners.cache]
type = "azure"
[runners.cache.azure]
accountname = "acct"
AccountKey = "a2V5"
ContainerName = "c"
[[runners]]
name = "local"
url = "https://gitlab.example.com"
token = "glrt-local-only-0123456789"
executor = "shell"
`;

describe("the signer's allowlist of config.toml", () => {
  const settings = parseSignerSettings(toml, { source: "signer.toml", env: { AZ_TOKEN_VAR: AZ_TOKEN } });

  test("signed-cache entries by short token ($VAR expanded, keys matched case-insensitively), [mesh]", () => {
    expect([...settings.caches.keys()]).toEqual([shortToken(S3_TOKEN), shortToken(AZ_TOKEN)]);
    expect(settings.caches.get(shortToken(S3_TOKEN))?.s3?.SecretKey).toBe("super-secret-value");
    expect(settings.caches.get(shortToken(AZ_TOKEN))?.azure?.AccountName).toBe("acct");
    expect(settings.mesh.nats_url).toBe("nats://127.0.0.1:4222");
    expect(settings.logLevel).toBe("debug");
  });

  test("no full runner token and nothing of the other sections is held", () => {
    const everything = Bun.inspect(settings, { depth: 100 });
    for (const token of [S3_TOKEN, AZ_TOKEN, "glrt-local-only-0123456789"])
      expect(everything).not.toContain(token);
    for (const other of ["gitlab.example.com", "alpine", "runners.docker", "image", '"local"'])
      expect(everything).not.toContain(other);
  });

  test("--nats wins over [mesh] nats_url", () => {
    const s = parseSignerSettings(toml, { source: "s.toml", nats: "nats://10.0.0.1:4222", env: {} });
    expect(s.mesh.nats_url).toBe("nats://10.0.0.1:4222");
  });

  test("a cache key of the wrong type and an unreadable CredentialsFile are errors naming the runner", () => {
    const dir = mkdtempSync(join(tmpdir(), "signer-settings-"));
    const bad = join(dir, "creds.json");
    writeFileSync(bad, JSON.stringify({ type: "service_account" }));
    const text = `
[[runners]]
name = "g"
token = "glrt-gcs-0123456789"
[runners.cache]
Type = "gcs"
Shared = "yes"
[[runners]]
name = "h"
token = "glrt-gcs-abcdefghij"
[runners.cache]
Type = "gcsv2"
[runners.cache.gcs]
BucketName = "x"
CredentialsFile = "${bad}"
`;
    let error: unknown;
    try {
      parseSignerSettings(text, { source: "bad.toml", env: {} });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('bad.toml: runner "g" (runners[0]): [runners.cache] Shared: expected');
    expect(message).toContain(
      `bad.toml: runner "h" (runners[1]): [runners.cache.gcs] CredentialsFile ${bad}: expected a service-account JSON with client_email and private_key`,
    );
  });

  test("a file without any signed cache loads with a warning", () => {
    const s = parseSignerSettings('[[runners]]\nname = "x"\ntoken = "glrt-x"\n', {
      source: "e.toml",
      env: {},
    });
    expect(s.caches.size).toBe(0);
    expect(s.warnings[0]).toContain("the cache-signer has nothing to sign");
  });
});

describe("signerCaches (runmesh run: from the config the process loaded)", () => {
  test("only signed-cache entries, by short token", () => {
    const { config } = parseConfig(toml, {
      source: "signer.toml",
      hostname: "h",
      env: { AZ_TOKEN_VAR: AZ_TOKEN },
    });
    const caches = signerCaches(config);
    expect([...caches.keys()]).toEqual([shortToken(S3_TOKEN), shortToken(AZ_TOKEN)]);
    expect(caches.get(shortToken(S3_TOKEN))?.Shared).toBe(true);
  });
});

describe("GCS through the signer (no GCS emulator here verifies signatures: checked with the public key)", () => {
  test("a CredentialsFile becomes the signing identity; STORAGE_EMULATOR_HOST is where the URL points", () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const dir = mkdtempSync(join(tmpdir(), "signer-gcs-"));
    const creds = join(dir, "sa.json");
    const email = "cache@project.iam.gserviceaccount.com";
    writeFileSync(
      creds,
      JSON.stringify({
        type: "service_account",
        client_email: email,
        private_key: privateKey.export({ type: "pkcs8", format: "pem" }),
      }),
    );
    const token = "glrt-gcs-routing-0123456789";
    const settings = parseSignerSettings(
      `[[runners]]\nname = "g"\ntoken = "${token}"\n[runners.cache]\nType = "gcs"\nMaxUploadedArchiveSize = 1000\n[runners.cache.gcs]\nBucketName = "ci"\nCredentialsFile = "${creds}"\n`,
      { source: "g.toml", env: {} },
    );
    const cache = settings.caches.get(shortToken(token))!;
    expect(cache.gcs?.AccessID).toBe(email);
    const payload = JSON.stringify({
      id: 5,
      token: "t",
      job_info: { name: "b", project_id: 9 },
      git_info: { ref: "main" },
      runner_info: { timeout: 600 },
      variables: [],
      cache: [{ key: "k-non_protected", paths: ["p"], policy: "pull-push" }],
    });
    const job = {
      jobKey: "h_5",
      gitlabUrl: "http://gitlab",
      runnerKey: "r",
      runnerName: "g",
      jobId: 5,
      jobToken: "t",
      timeoutS: 600,
      payload,
      runner: { short_token: shortToken(token), url: "http://gitlab", executor: "shell" },
      systemId: "s",
      leaseId: "l",
      workerId: "w1",
      pollerId: "p",
      acceptedAt: 0,
      tls: {},
    };
    const record = openedJobRecordSchema.parse({
      state: "running",
      workerId: "w1",
      updatedAt: 0,
      sealed: "",
      job,
    });
    const now = new Date("2030-01-01T00:00:00Z");
    const d = decideSign({
      req: { workerId: "w1", jobKey: "h_5", key: "k-non_protected", op: "put" },
      record,
      cacheFor: (t) => settings.caches.get(t),
      now,
      emulatorHost: "http://127.0.0.1:4443",
    });
    if (!d.ok) throw new Error(d.reason);
    const url = new URL(d.url);
    expect(url.host).toBe("127.0.0.1:4443");
    expect(url.pathname).toBe(`/ci/runner/${shortToken(token)}/project/9/k-non_protected`);
    expect(url.searchParams.get("GoogleAccessId")).toBe(email);
    const toSign = gcsStringToSign({
      accessId: email,
      privateKey: "",
      bucket: "ci",
      objectName: d.objectName,
      method: "PUT",
      expiresAt: new Date(now.getTime() + 600_000),
      contentType: "application/octet-stream",
      headers: gcsPutHeaders("k-non_protected", 1000),
    });
    const verified = createVerify("RSA-SHA256")
      .update(toSign)
      .verify(publicKey, url.searchParams.get("Signature")!, "base64");
    expect(verified).toBe(true);
  });
});
