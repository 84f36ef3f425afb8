// Cache naming and re-upload semantics through the mesh and the cache-signer, against a
// SigV4-verifying S3 server (@20minutes/s3rver): FF_HASH_CACHE_KEYS names objects by the key's
// SHA-256 under a two-character shard and still finds a cache saved under the human name (the
// alternate naming), a job without the flag takes the hashed object when it is the newer one, and
// an archive unchanged since it was restored is not uploaded again when the object is there, and a
// tar+zstd archive (CACHE_COMPRESSION_FORMAT=tarzstd) is told by its magic bytes and extracted.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashCacheKey } from "../../libs/cache/cache-key.ts";
import type { CacheSigner } from "../../services/cache-signer/signer.ts";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { type Mesh, startMesh } from "./mesh-harness.ts";
import { type S3Server, startMeshSigner, startS3 } from "./s3-cache.ts";

const TOKEN = "glrt-cache-naming-mesh-0123456789";
const ACCESS = "AKIANAMINGCACHE";
const SECRET = "naming-cache-secret-1122334455";
const root = mkdtempSync(join(tmpdir(), "runmesh-cache-naming-"));
const cacheDir = join(root, "cache");
let coordinator: Coordinator;
let mesh: Mesh;
let signer: CacheSigner;
let s3: S3Server;

beforeAll(async () => {
  s3 = await startS3({ root, bucket: "naming-cache", access: ACCESS, secret: SECRET });
  coordinator = await startCoordinator({ longPollMs: 1000, traceUpdateIntervalS: 1 });
  coordinator.registerRunner(TOKEN);
  const extra = s3.runnerCache({ cacheDir, shared: true });
  mesh = await startMesh({
    transport: "inproc",
    workers: 1,
    config: { url: coordinator.url, concurrent: 1, runners: [{ name: "naming", token: TOKEN, extra }] },
  });
  signer = await startMeshSigner(mesh);
});

afterAll(async () => {
  await signer?.stop();
  await mesh?.stop();
  await coordinator?.stop();
  await s3?.close();
  rmSync(root, { recursive: true, force: true });
});

const KEY = "deps-non_protected";
const HASHED = [{ key: "FF_HASH_CACHE_KEYS", value: "true", public: true }];
const GIT_NONE = [{ key: "GIT_STRATEGY", value: "none", public: true }];

async function job(o: {
  script: string[];
  policy: string;
  hashed?: boolean;
  variables?: { key: string; value: string; public: boolean }[];
}): Promise<string> {
  const { id } = coordinator.enqueueJob(TOKEN, {
    projectId: 4343,
    variables: [...GIT_NONE, ...(o.hashed ? HASHED : []), ...(o.variables ?? [])],
    script: o.script,
    cache: [{ key: KEY, paths: [".deps"], policy: o.policy, when: "on_success" }],
  });
  const done = await coordinator.waitForFinal(id, 30_000);
  const trace = new TextDecoder().decode(done.trace);
  expect({ status: done.status, trace }).toMatchObject({ status: "success" });
  return trace;
}
const stored = () => readdirSync(s3.bucketDir, { recursive: true }).map(String);

describe("cache naming (FF_HASH_CACHE_KEYS) and re-uploads through the cache-signer", () => {
  test("hashed and human namings find each other; an unchanged archive is not uploaded again", async () => {
    const sha = hashCacheKey(KEY);
    // 1. Without the flag: the object is named by the key.
    const first = await job({ script: ["mkdir -p .deps && echo v-human > .deps/lib"], policy: "pull-push" });
    expect(first).toMatch(
      new RegExp(`Uploading cache.zip to http://127.0.0.1:\\d+/naming-cache/project/4343/${KEY}\\W`),
    );
    expect(stored().some((p) => p.includes(`project/4343/${KEY}`))).toBe(true);

    // 2. With the flag, the local archives gone: the human-named object is the alternate it
    //    restores; it saves under the hash, sharded by its first two characters.
    rmSync(cacheDir, { recursive: true, force: true });
    const hashed = await job({
      hashed: true,
      script: ["cat .deps/lib", "sleep 1.1", "echo v-hashed > .deps/lib"],
      policy: "pull-push",
    });
    expect(hashed).toContain(`Checking cache for ${KEY}...`);
    expect(hashed).toContain("v-human\n");
    expect(hashed).toContain(`Uploading cache.zip to http://127.0.0.1:`);
    expect(hashed).toContain(`/naming-cache/project/4343/${sha.slice(0, 2)}/${sha}`);
    expect(stored().some((p) => p.includes(`project/4343/${sha.slice(0, 2)}/${sha}`))).toBe(true);

    // 3. Without the flag again: both objects exist, the hashed one is newer, so it wins.
    rmSync(cacheDir, { recursive: true, force: true });
    const back = await job({ script: ["cat .deps/lib"], policy: "pull" });
    expect(back).toContain("v-hashed\n");
    expect(back).toContain("Successfully extracted cache");

    // 4. The archive restored in 3 still holds the files: not re-archived, not re-uploaded.
    const unchanged = await job({ script: ["cat .deps/lib"], policy: "pull-push" });
    expect(unchanged).toContain("cache.zip is up to date");
    expect(unchanged).toContain("Primary cache already exists remotely, skipping upload");
    expect(unchanged).not.toContain("Uploading cache.zip");
    expect(unchanged).toContain("Created cache");
  });

  test("CACHE_COMPRESSION_FORMAT=tarzstd stores tar+zstd under the same name; the next job extracts it", async () => {
    await job({
      variables: [{ key: "CACHE_COMPRESSION_FORMAT", value: "tarzstd", public: true }],
      script: ["mkdir -p .deps && echo v-zstd > .deps/lib"],
      policy: "pull-push",
    });
    const object = stored().find((p) => p.endsWith(`project/4343/${KEY}._S3rver_object`));
    const head = readFileSync(join(root, "s3", "naming-cache", object!)).subarray(0, 4);
    expect([...head]).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    rmSync(cacheDir, { recursive: true, force: true });
    const read = await job({ script: ["cat .deps/lib"], policy: "pull" });
    expect(read).toContain("v-zstd\n");
    expect(read).toContain("Successfully extracted cache");
  });
});
