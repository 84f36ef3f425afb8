// The cache-signer as its own process on a real nats-server: the poller, scheduler and worker of
// the mesh on their own NATS connections, `runmesh cache-signer --config … --nats …` beside them
// holding the only S3 credentials, a SigV4-verifying S3 server (@20minutes/s3rver). A job's cache
// goes to S3 through the signer's URLs and the next job restores it from there; the secret is in
// no mesh log and no signer log line.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { type NatsServer, startNatsServer } from "../infra/nats-server.ts";
import { configToml, type Mesh, type RunnerSpec, startMesh } from "./mesh-harness.ts";
import { type MeshProcess, spawnRunmesh } from "./processes.ts";
import { type S3Server, startS3 } from "./s3-cache.ts";

const TOKEN = "glrt-cache-signer-nats-0123456789";
const ACCESS = "AKIANATSSIGNER";
const SECRET = "nats-signer-secret-5566778899";
const root = mkdtempSync(join(tmpdir(), "runmesh-cache-nats-"));
const cacheDir = join(root, "cache");
let nats: NatsServer;
let coordinator: Coordinator;
let mesh: Mesh;
let signer: MeshProcess;
let s3: S3Server;

beforeAll(async () => {
  s3 = await startS3({ root, bucket: "nats-cache", access: ACCESS, secret: SECRET });
  nats = await startNatsServer({ jetstream: true });
  coordinator = await startCoordinator({ longPollMs: 1000, traceUpdateIntervalS: 1 });
  coordinator.registerRunner(TOKEN);
  const extra = s3.runnerCache({ cacheDir });
  const runners: RunnerSpec[] = [{ name: "nats-cached", token: TOKEN, extra }];
  mesh = await startMesh({
    transport: "nats",
    natsUrl: nats.url,
    workers: 1,
    config: { url: coordinator.url, concurrent: 1, runners },
  });
  const configPath = join(root, "signer.toml");
  writeFileSync(configPath, configToml({ url: coordinator.url, concurrent: 1, runners }));
  signer = spawnRunmesh(["cache-signer", "--config", configPath, "--nats", nats.url]);
  await signer.waitFor("runmesh ready", 30_000);
});

afterAll(async () => {
  signer?.kill("SIGTERM");
  await signer?.exited;
  await mesh?.stop();
  await coordinator?.stop();
  await nats?.stop();
  await s3?.close();
  rmSync(root, { recursive: true, force: true });
});

const NO_GIT = [{ key: "GIT_STRATEGY", value: "none", public: true }];
const traceOf = (t: Uint8Array) => new TextDecoder().decode(t);

describe("runmesh cache-signer over NATS", () => {
  test("signs the worker's cache URLs: saved to S3 by one job, restored by the next", async () => {
    const saver = coordinator.enqueueJob(TOKEN, {
      projectId: 6060,
      variables: NO_GIT,
      script: ["mkdir -p out && echo over-nats-$CI_JOB_ID > out/f"],
      cache: [{ key: "k-non_protected", paths: ["out"], policy: "pull-push" }],
    });
    const saved = await coordinator.waitForFinal(saver.id, 60_000);
    expect(saved.status).toBe("success");
    expect(traceOf(saved.trace)).toContain("/nats-cache/runner/");
    expect(traceOf(saved.trace)).toContain("Created cache");

    rmSync(cacheDir, { recursive: true, force: true });
    const reader = coordinator.enqueueJob(TOKEN, {
      projectId: 6060,
      variables: NO_GIT,
      script: ["cat out/f"],
      cache: [{ key: "k-non_protected", paths: ["out"], policy: "pull" }],
    });
    const read = await coordinator.waitForFinal(reader.id, 60_000);
    const readTrace = traceOf(read.trace);
    expect(read.status).toBe("success");
    expect(readTrace).toContain("Downloading cache from http://127.0.0.1:");
    expect(readTrace).toContain(`over-nats-${saver.id}\n`);

    expect(signer.lines.filter((l) => l.includes("cache URL signed")).length).toBeGreaterThanOrEqual(2);
    for (const line of [...signer.lines, ...mesh.logs]) expect(line.includes(SECRET)).toBe(false);
  });
});
