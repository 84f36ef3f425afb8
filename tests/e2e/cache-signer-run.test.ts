// `runmesh run` as a real process starts the cache-signer beside its other tiers when a runner
// entry has an S3 cache: a job's cache goes to a SigV4-verifying S3 server (@20minutes/s3rver)
// through a signed PUT, and the process log never shows the secret key.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunProcess, startRunProcess } from "./run-process.ts";
import { type S3Server, startS3 } from "./s3-cache.ts";

const TOKEN = "glrt-cache-signer-run-0123456789";
const ACCESS = "AKIARUNPROCESS";
const SECRET = "run-process-secret-24680";
const root = mkdtempSync(join(tmpdir(), "runmesh-cache-run-"));
let s3: S3Server;
let run: RunProcess;

beforeAll(async () => {
  s3 = await startS3({ root, bucket: "run-cache", access: ACCESS, secret: SECRET });
  const extra = s3.runnerCache({ shared: true });
  run = await startRunProcess({ runners: [{ name: "cached", token: TOKEN, extra }] });
});

afterAll(async () => {
  await run?.stop();
  await s3?.close();
  rmSync(root, { recursive: true, force: true });
});

describe("runmesh run with an S3 cache", () => {
  test("the signer runs in the process and the job's cache lands in S3; the secret is in no log line", async () => {
    await run.proc.waitFor("cache-signer serving");
    const job = run.coordinator.enqueueJob(TOKEN, {
      projectId: 99,
      gitStrategy: "none",
      script: ["mkdir -p out && echo x > out/f"],
      cache: [{ key: "k-non_protected", paths: ["out"], policy: "pull-push" }],
    });
    const done = await run.coordinator.waitForFinal(job.id, 30_000);
    const trace = new TextDecoder().decode(done.trace);
    expect(done.status).toBe("success");
    expect(trace).toContain("/run-cache/project/99/k-non_protected");
    expect(trace).toContain("Created cache");
    // s3rver keeps objects on disk under the bucket's folder.
    const stored = readdirSync(s3.bucketDir, { recursive: true }).map(String);
    expect(stored.some((p) => p.includes("k-non_protected"))).toBe(true);
    expect(run.proc.lines.some((l) => l.includes(SECRET))).toBe(false);
  });
});
