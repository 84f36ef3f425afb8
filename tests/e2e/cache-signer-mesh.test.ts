// The distributed cache end to end: two workers on one bus, the cache-signer beside them holding
// the only S3 credentials, a real SigV4-verifying S3 server (@20minutes/s3rver). A cache saved by
// one job goes to S3 through a signed PUT; with the local archives gone, the next job restores it
// from S3 through a signed GET; no worker log, job trace or bus message carries the secret.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CacheSigner } from "../../services/cache-signer/signer.ts";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { type Mesh, startMesh } from "./mesh-harness.ts";
import { type S3Server, startMeshSigner, startS3 } from "./s3-cache.ts";

const TOKEN = "glrt-cache-signer-mesh-0123456789";
const ACCESS = "AKIAMESHCACHE";
const SECRET = "mesh-cache-secret-9876543210";
const root = mkdtempSync(join(tmpdir(), "runmesh-cache-mesh-"));
const cacheDir = join(root, "cache");
let coordinator: Coordinator;
let mesh: Mesh;
let signer: CacheSigner;
let s3: S3Server;
const signerLines: string[] = [];
const busMessages: string[] = [];

beforeAll(async () => {
  s3 = await startS3({ root, bucket: "runner-cache", access: ACCESS, secret: SECRET });
  coordinator = await startCoordinator({ longPollMs: 1000, traceUpdateIntervalS: 1 });
  coordinator.registerRunner(TOKEN);
  const extra = s3.runnerCache({ cacheDir, path: "mesh", location: "us-east-1" });
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
  signer = await startMeshSigner(mesh, (l) => signerLines.push(l));
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
