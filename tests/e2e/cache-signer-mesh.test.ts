// The distributed cache end to end: two workers on one bus, the cache-signer beside them holding
// the only S3 credentials, a real SigV4-verifying S3 server (@20minutes/s3rver). A cache saved by
// one job goes to S3 through a signed PUT; with the local archives gone, the next job restores it
// from S3 through a signed GET; no worker log, job trace or bus message carries the secret.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shortToken } from "../../libs/config/index.ts";
import { createLogger } from "../../libs/log/logger.ts";
import type { SignerCache } from "../../services/cache-signer/sign-decision.ts";
import { type CacheSigner, startCacheSigner } from "../../services/cache-signer/signer.ts";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { type Mesh, startMesh } from "./mesh-harness.ts";

const TOKEN = "glrt-cache-signer-mesh-0123456789";
const ACCESS = "AKIAMESHCACHE";
const SECRET = "mesh-cache-secret-9876543210";
const root = mkdtempSync(join(tmpdir(), "runmesh-cache-mesh-"));
const cacheDir = join(root, "cache");
let coordinator: Coordinator;
let mesh: Mesh;
let signer: CacheSigner;
// biome-ignore lint/suspicious/noExplicitAny: s3rver ships no types
let s3: any;
const signerLines: string[] = [];
const busMessages: string[] = [];

beforeAll(async () => {
  const require = createRequire(import.meta.url);
  const S3rver = require("@20minutes/s3rver");
  require("@20minutes/s3rver/lib/models/account").DUMMY_ACCOUNT.createKeyPair(ACCESS, SECRET);
  s3 = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory: join(root, "s3"),
    configureBuckets: [{ name: "runner-cache" }],
  });
  const { port } = await s3.run();
  coordinator = await startCoordinator({ longPollMs: 1000, traceUpdateIntervalS: 1 });
  coordinator.registerRunner(TOKEN);
  const extra = [
    `cache_dir = ${JSON.stringify(cacheDir)}`,
    "[runners.cache]",
    'Type = "s3"',
    'Path = "mesh"',
    "[runners.cache.s3]",
    `ServerAddress = "127.0.0.1:${port}"`,
    'BucketName = "runner-cache"',
    'BucketLocation = "us-east-1"',
    "Insecure = true",
    `AccessKey = "${ACCESS}"`,
    `SecretKey = "${SECRET}"`,
  ].join("\n");
  mesh = await startMesh({
    transport: "inproc",
    workers: 2,
    config: { url: coordinator.url, concurrent: 2, runners: [{ name: "cached", token: TOKEN, extra }] },
  });
  const bus = mesh.buses[0]!;
  const original = bus.request.bind(bus);
  bus.request = ((rpc, data, opts) => {
    busMessages.push(JSON.stringify(data));
    return original(rpc, data, opts);
  }) as typeof bus.request;
  const caches = new Map<string, SignerCache>();
  for (const r of mesh.config.runners) if (r.cache) caches.set(shortToken(r.token), r.cache as SignerCache);
  signer = await startCacheSigner({
    bus,
    logger: createLogger({
      service: "cache-signer",
      level: "debug",
      destination: { write: (l: string) => signerLines.push(l) },
    }),
    caches,
  });
});

afterAll(async () => {
  await signer?.stop();
  await mesh?.stop();
  await coordinator?.stop();
  await s3?.close();
  rmSync(root, { recursive: true, force: true });
});

const NO_GIT = [{ key: "GIT_STRATEGY", value: "none", public: true }];
const traceOf = (id: number) => new TextDecoder().decode(coordinator.jobs.get(id)!.trace);

describe("distributed cache through the cache-signer", () => {
  test("saved to S3 by one job, restored from S3 by the next; the secret is nowhere but in the signer", async () => {
    const saver = coordinator.enqueueJob(TOKEN, {
      projectId: 4242,
      variables: NO_GIT,
      script: ["mkdir -p .deps && echo from-s3-$CI_JOB_ID > .deps/lib"],
      cache: [{ key: "deps-non_protected", paths: [".deps"], policy: "pull-push", when: "on_success" }],
    });
    expect((await coordinator.waitForFinal(saver.id, 30_000)).status).toBe("success");
    const saveTrace = traceOf(saver.id);
    expect(saveTrace).toContain("Uploading cache.zip to http://127.0.0.1:");
    expect(saveTrace).toContain("/runner-cache/mesh/runner/");
    expect(saveTrace).toContain("/project/4242/deps-non_protected");
    expect(saveTrace).not.toContain("X-Amz-Signature");
    // Only S3 has it now.
    rmSync(cacheDir, { recursive: true, force: true });
    expect(existsSync(cacheDir)).toBe(false);

    const reader = coordinator.enqueueJob(TOKEN, {
      projectId: 4242,
      variables: NO_GIT,
      script: ["cat .deps/lib"],
      cache: [{ key: "deps-non_protected", paths: [".deps"], policy: "pull" }],
    });
    expect((await coordinator.waitForFinal(reader.id, 30_000)).status).toBe("success");
    const readTrace = traceOf(reader.id);
    expect(readTrace).toContain("Downloading cache from http://127.0.0.1:");
    expect(readTrace).toContain("Successfully extracted cache");
    expect(readTrace).toContain(`from-s3-${saver.id}\n`);

    expect(signerLines.filter((l) => l.includes("cache URL signed")).length).toBeGreaterThanOrEqual(2);
    for (const text of [...mesh.logs, saveTrace, readTrace, ...busMessages, ...signerLines])
      expect(text.includes(SECRET)).toBe(false);
  });
});
