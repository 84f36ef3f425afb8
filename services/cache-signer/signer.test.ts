// The cache-signer against a real S3 server that verifies SigV4 (@20minutes/s3rver, in process on
// 127.0.0.1): a URL it signs for a running job's own key works for PUT (with the SSE and metadata
// headers it returns) and GET; a URL signed with the wrong secret, for another object, or expired
// is refused by the server; the signer itself refuses other jobs, workers, keys and policies, and
// logs the refusal with job, worker and key but never the secret.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createVerify, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInprocBus } from "../../libs/bus/inproc-bus.ts";
import { cacheObjectName } from "../../libs/cache/object-name.ts";
import { presignS3 } from "../../libs/cache/s3-presign.ts";
import { createLogger } from "../../libs/log/logger.ts";
import { stowPayload } from "../../libs/messages/payload-handover.ts";
import { recordsKey, sealRecord } from "../../libs/messages/record-seal.ts";
import {
  cacheSignRpcOf,
  JOBS_BUCKET,
  type JobRecord,
  jobRecordSchema,
  type OpenedJobRecord,
  openedJobRecordSchema,
} from "../../libs/messages/subjects.ts";
import { decideSign, type SignerCache } from "./sign-decision.ts";
import { startCacheSigner } from "./signer.ts";

const SECRET = "s3cr3t-signer-key-0123456789";
const ACCESS = "AKIARUNMESHTEST";

describe("SigV4 presigning and object names (pure)", () => {
  test("AWS's documented presigned GET example gives AWS's signature", () => {
    const { url } = presignS3({
      bucketName: "examplebucket",
      region: "us-east-1",
      pathStyle: false,
      accessKey: "AKIAIOSFODNN7EXAMPLE",
      secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      method: "GET",
      objectName: "test.txt",
      expiresS: 86400,
      now: new Date("2013-05-24T00:00:00Z"),
    });
    expect(url).toBe(
      "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
    );
  });

  test.each([
    [{ shared: false, path: "", key: "deps" }, "runner/abc12345/project/7/deps"],
    [{ shared: true, path: "", key: "deps" }, "project/7/deps"],
    [{ shared: false, path: "ci/", key: "a/b" }, "ci/runner/abc12345/project/7/a/b"],
    [{ shared: true, path: "/x", key: "../8/steal" }, undefined],
    [{ shared: true, path: "", key: ".." }, undefined],
  ])("cacheObjectName(%p) = %p", (o, want) =>
    expect(cacheObjectName({ ...o, shortToken: "abc12345", projectId: 7 })).toBe(want as string),
  );
});

const root = mkdtempSync(join(tmpdir(), "runmesh-s3rver-"));
// biome-ignore lint/suspicious/noExplicitAny: s3rver ships no types
let s3: any;
let endpoint = "";

beforeAll(async () => {
  const require = createRequire(import.meta.url);
  const S3rver = require("@20minutes/s3rver");
  require("@20minutes/s3rver/lib/models/account").DUMMY_ACCOUNT.createKeyPair(ACCESS, SECRET);
  s3 = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory: root,
    configureBuckets: [{ name: "ci-cache" }],
  });
  const addr = await s3.run();
  endpoint = `127.0.0.1:${addr.port}`;
});

afterAll(async () => {
  await s3?.close();
  rmSync(root, { recursive: true, force: true });
});

const cacheConfig = (secret = SECRET): SignerCache => ({
  Type: "s3",
  Path: "runmesh",
  Shared: false,
  s3: {
    ServerAddress: endpoint,
    BucketName: "ci-cache",
    BucketLocation: "us-east-1",
    Insecure: true,
    AccessKey: ACCESS,
    SecretKey: secret,
    ServerSideEncryption: "S3",
  },
});

function record(o: {
  state?: JobRecord["state"];
  workerId?: string;
  cache?: unknown[];
  padding?: string;
  timeout?: number;
}): OpenedJobRecord {
  const payload = JSON.stringify({
    id: 77,
    token: "job-token",
    job_info: { name: "build", project_id: 42 },
    git_info: { ref: "main" },
    runner_info: { timeout: o.timeout ?? 3600 },
    variables: [
      { key: "CACHE_FALLBACK_KEY", value: "global-non_protected" },
      { key: "PADDING", value: o.padding ?? "" },
    ],
    cache: o.cache ?? [
      {
        key: "deps-non_protected",
        paths: ["vendor/"],
        policy: "pull-push",
        fallback_keys: ["main-non_protected"],
      },
      { key: "ro-non_protected", paths: ["ro/"], policy: "pull" },
    ],
  });
  return openedJobRecordSchema.parse({
    state: o.state ?? "running",
    workerId: o.workerId ?? "w1",
    updatedAt: 0,
    sealed: "",
    job: {
      jobKey: "h_77",
      gitlabUrl: "http://gitlab",
      runnerKey: "r",
      runnerName: "r",
      jobId: 77,
      jobToken: "job-token",
      timeoutS: 3600,
      payload,
      runner: { short_token: "abc12345", url: "http://gitlab", executor: "shell" },
      systemId: "s",
      leaseId: "l",
      workerId: "w1",
      pollerId: "p",
      acceptedAt: 0,
      tls: {},
    },
  });
}

describe("sign decisions", () => {
  const now = new Date();
  const decide = (
    req: Partial<Parameters<typeof decideSign>[0]["req"]>,
    rec: OpenedJobRecord | null = record({}),
  ) =>
    decideSign({
      req: { workerId: "w1", jobKey: "h_77", key: "deps-non_protected", op: "get", ...req },
      record: rec ?? undefined,
      cacheFor: (t) => (t === "abc12345" ? cacheConfig() : undefined),
      now,
    });
  test.each([
    ["an unknown job", {}, null, "the scheduler has no record of this job"],
    ["a finished job", {}, record({ state: "final" }), "the job is final, not running"],
    ["another worker's job", { workerId: "w2" }, record({}), 'the job runs on worker "w1"'],
    ["a key of no cache entry", { key: "other-project-key" }, record({}), "not one of this job's cache keys"],
    [
      "PUT for a pull-only key",
      { key: "ro-non_protected", op: "put" as const },
      record({}),
      "PUT is not what",
    ],
    [
      "PUT for a fallback key",
      { key: "main-non_protected", op: "put" as const },
      record({}),
      "PUT is not what",
    ],
  ])("refuses %s, naming job, worker and key", (_n, req, rec, why) => {
    const d = decide(req, rec);
    expect(d.ok).toBe(false);
    expect(!d.ok && d.reason).toContain(why);
    expect(!d.ok && d.reason).toContain(`job h_77, worker "${"workerId" in req ? req.workerId : "w1"}"`);
    expect(!d.ok && d.reason).not.toContain(SECRET);
  });
  test.each([
    ["GET of the key", { op: "get" as const }],
    ["HEAD of the key", { op: "head" as const }],
    ["PUT of a pull-push key", { op: "put" as const }],
    ["GET of a fallback key", { key: "main-non_protected" }],
    ["GET of CACHE_FALLBACK_KEY", { key: "global-non_protected" }],
  ])("signs %s", (_n, req) => expect(decide(req).ok).toBe(true));

  test("a GCS cache gets a V2 signed PUT over the job's object, verified with the key's public half", () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const gcs: SignerCache = {
      Type: "gcsv2",
      Shared: true,
      MaxUploadedArchiveSize: 5000,
      gcs: {
        BucketName: "gcs-cache",
        AccessID: "sa@p.iam.gserviceaccount.com",
        PrivateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      },
    };
    const d = decideSign({
      req: { workerId: "w1", jobKey: "h_77", key: "deps-non_protected", op: "put" },
      record: record({}),
      cacheFor: () => gcs,
      now: new Date("2030-01-01T00:00:00Z"),
    });
    if (!d.ok) throw new Error(d.reason);
    expect(d.objectName).toBe("project/42/deps-non_protected");
    expect(d.headers["x-goog-content-length-range"]).toBe("0,5000");
    const expires = 1893456000 + 3600;
    const toSign = `PUT\n\napplication/octet-stream\n${expires}\nx-goog-content-length-range:0,5000\nx-goog-meta-cachekey:deps-non_protected\n/gcs-cache/project/42/deps-non_protected`;
    const sig = new URL(d.url).searchParams.get("Signature")!;
    expect(createVerify("RSA-SHA256").update(toSign).verify(publicKey, sig, "base64")).toBe(true);
    const noKey = decideSign({
      req: { workerId: "w1", jobKey: "h_77", key: "deps-non_protected", op: "get" },
      record: record({}),
      cacheFor: () => ({ ...gcs, gcs: { BucketName: "gcs-cache" } }),
      now: new Date(),
    });
    expect(!noKey.ok && noKey.reason).toContain("GCS needs AccessID and PrivateKey");
  });

  test("IAM credentials are refused as unreachable, never guessed", () => {
    const d = decideSign({
      req: { workerId: "w1", jobKey: "h_77", key: "deps-non_protected", op: "get" },
      record: record({}),
      cacheFor: () => ({ ...cacheConfig(), s3: { ...cacheConfig().s3!, AuthenticationType: "iam" } }),
      now,
    });
    expect(!d.ok && d.reason).toContain("IAM credentials cannot be reached");
  });
});

describe("cache-signer over the bus against s3rver", () => {
  test("signed PUT and GET work; wrong secret, another object and expiry are refused by S3; refusals are logged without the secret", async () => {
    const bus = createInprocBus();
    const lines: string[] = [];
    const logger = createLogger({
      service: "cache-signer",
      level: "debug",
      destination: { write: (l: string) => lines.push(l) },
    });
    const jobs = await bus.kv(JOBS_BUCKET, jobRecordSchema);
    // As the scheduler's dispatch and the worker's claim leave it: the job sealed in its record.
    await jobs.put("h_77", sealRecord((await recordsKey(bus, { create: true }))!, record({})));
    const signer = await startCacheSigner({ bus, logger, caches: new Map([["abc12345", cacheConfig()]]) });
    try {
      const put = await bus.request(cacheSignRpcOf("w1"), {
        workerId: "w1",
        jobKey: "h_77",
        key: "deps-non_protected",
        op: "put",
      });
      expect(put.ok).toBe(true);
      expect(put.url).toContain(
        `http://${endpoint}/ci-cache/runmesh/runner/abc12345/project/42/deps-non_protected?`,
      );
      expect(put.headers).toEqual({
        "x-amz-meta-cachekey": "deps-non_protected",
        "x-amz-server-side-encryption": "AES256",
      });
      const body = new TextEncoder().encode("cache-archive-bytes");
      const putRes = await fetch(put.url!, {
        method: "PUT",
        headers: { ...put.headers, "Content-Type": "application/octet-stream" },
        body,
      });
      expect(putRes.status).toBe(200);
      // Without the signed headers, the same URL is refused.
      expect((await fetch(put.url!, { method: "PUT", body })).status).toBe(403);

      const get = await bus.request(cacheSignRpcOf("w1"), {
        workerId: "w1",
        jobKey: "h_77",
        key: "deps-non_protected",
        op: "get",
      });
      const got = await fetch(get.url!);
      expect(got.status).toBe(200);
      expect(await got.text()).toBe("cache-archive-bytes");
      // Another object with the same signature.
      const tampered = get.url!.replace("/project/42/", "/project/43/");
      expect((await fetch(tampered)).status).toBe(403);

      // Signed with the wrong secret.
      const wrong = decideSign({
        req: { workerId: "w1", jobKey: "h_77", key: "deps-non_protected", op: "get" },
        record: record({}),
        cacheFor: () => cacheConfig("not-the-secret"),
        now: new Date(),
      });
      const wrongRes = await fetch(wrong.ok ? wrong.url : "");
      expect([wrongRes.status, (await wrongRes.text()).includes("SignatureDoesNotMatch")]).toEqual([
        403,
        true,
      ]);
      // Expired: signed two hours ago for a 60 s job timeout.
      const old = decideSign({
        req: { workerId: "w1", jobKey: "h_77", key: "deps-non_protected", op: "get" },
        record: record({ timeout: 60 }),
        cacheFor: () => cacheConfig(),
        now: new Date(Date.now() - 2 * 3600_000),
      });
      expect((await fetch(old.ok ? old.url : "")).status).toBe(403);

      // The signer refuses another worker and another project's key, and logs why.
      const other = await bus.request(cacheSignRpcOf("w9"), {
        workerId: "w9",
        jobKey: "h_77",
        key: "deps-non_protected",
        op: "get",
      });
      expect(other).toMatchObject({ ok: false });
      const foreign = await bus.request(cacheSignRpcOf("w1"), {
        workerId: "w1",
        jobKey: "h_77",
        key: "../43/deps",
        op: "get",
      });
      expect(foreign.ok).toBe(false);
      const refusals = lines.filter((l) => l.includes("cache URL refused"));
      expect(refusals.length).toBe(2);
      expect(
        refusals.every(
          (l) => l.includes('"jobKey":"h_77"') && l.includes('"workerId"') && l.includes('"key"'),
        ),
      ).toBe(true);
      expect(lines.some((l) => l.includes(SECRET))).toBe(false);
    } finally {
      await signer.stop();
      await bus.close();
    }
  });

  test("a job whose payload waits in the mesh's store is read from there", async () => {
    const bus = createInprocBus();
    const logger = createLogger({
      service: "cache-signer",
      level: "error",
      destination: { write: () => {} },
    });
    const rec = record({ padding: "x".repeat(300_000) });
    const stowed = { ...rec, job: await stowPayload(bus, rec.job) };
    expect(stowed.job.payload).toBe("");
    const key = (await recordsKey(bus, { create: true }))!;
    await (await bus.kv(JOBS_BUCKET, jobRecordSchema)).put("h_77", sealRecord(key, stowed));
    const signer = await startCacheSigner({ bus, logger, caches: new Map([["abc12345", cacheConfig()]]) });
    try {
      const r = await bus.request(cacheSignRpcOf("w1"), {
        workerId: "w1",
        jobKey: "h_77",
        key: "deps-non_protected",
        op: "get",
      });
      expect(r.ok).toBe(true);
    } finally {
      await signer.stop();
      await bus.close();
    }
  });
});
