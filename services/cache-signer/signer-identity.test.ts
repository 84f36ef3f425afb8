// The cache-signer takes the asking worker from the subject it asked on (runmesh.cache.sign.<id>,
// which only that worker's NATS identity may publish to) and the worker a job runs on from the
// job's sealed record: a request naming another worker, a job running elsewhere, and a record a
// worker wrote itself are refused; the worker running the job gets its URL. In-process bus; the
// same checks over a real nats-server with identities are in tests/e2e/nats-identities.test.ts.
import { expect, test } from "bun:test";
import { createInprocBus } from "../../libs/bus/inproc-bus.ts";
import { createLogger } from "../../libs/log/logger.ts";
import { recordsKey, redactJob, sealRecord } from "../../libs/messages/record-seal.ts";
import {
  type AcceptedJob,
  cacheSignRpcOf,
  JOBS_BUCKET,
  jobRecordSchema,
} from "../../libs/messages/subjects.ts";
import { startCacheSigner } from "./signer.ts";

const job = {
  jobKey: "h_5",
  gitlabUrl: "http://gitlab",
  runnerKey: "r",
  runnerName: "r",
  jobId: 5,
  jobToken: "job-token-5",
  timeoutS: 3600,
  payload: JSON.stringify({
    id: 5,
    token: "job-token-5",
    job_info: { name: "build", project_id: 9 },
    git_info: { ref: "main" },
    runner_info: { timeout: 3600 },
    variables: [],
    cache: [{ key: "deps", paths: ["vendor/"], policy: "pull-push" }],
  }),
  runner: { short_token: "abc12345", url: "http://gitlab", executor: "shell" },
  systemId: "s",
  leaseId: "l",
  workerId: "w1",
  pollerId: "p",
  acceptedAt: 0,
  tls: {},
} as unknown as AcceptedJob;

test("the signer answers the worker the sealed record names, on its own subject, and no one else", async () => {
  const bus = createInprocBus();
  const jobs = await bus.kv(JOBS_BUCKET, jobRecordSchema);
  const signer = await startCacheSigner({
    bus,
    logger: createLogger({ service: "cache-signer", level: "error", destination: { write: () => {} } }),
    caches: new Map([
      [
        "abc12345",
        {
          Type: "s3",
          Shared: false,
          s3: {
            ServerAddress: "127.0.0.1:9",
            BucketName: "b",
            Insecure: true,
            AccessKey: "A",
            SecretKey: "S",
          },
        },
      ],
    ]),
  });
  const ask = (asker: string, named: string, jobKey = "h_5") =>
    bus.request(cacheSignRpcOf(asker), { workerId: named, jobKey, key: "deps", op: "get" });
  try {
    const record = { state: "running" as const, workerId: "w1", job, sealed: "", updatedAt: 0 };
    // Before any scheduler made the records key, nothing is trusted.
    await jobs.put("h_5", record);
    expect((await ask("w1", "w1")).reason).toContain("not sealed by this mesh's scheduler");

    const key = (await recordsKey(bus, { create: true }))!;
    await jobs.put("h_5", sealRecord(key, record));
    expect(await ask("w1", "w1")).toMatchObject({ ok: true });
    expect((await ask("w2", "w1")).reason).toContain('worker "w2" asked naming worker "w1"');
    expect((await ask("w2", "w2")).reason).toContain('the job runs on worker "w1"');
    // A record w2 writes itself, in clear or with w1's seal, names w2 for nobody.
    await jobs.put("h_6", { ...record, workerId: "w2", job: redactJob({ ...job, jobKey: "h_6" }) });
    expect((await ask("w2", "w2", "h_6")).reason).toContain("not sealed by this mesh's scheduler");
    await jobs.put("h_6", { ...sealRecord(key, record), workerId: "w2" });
    expect((await ask("w2", "w2", "h_6")).reason).toContain("not sealed by this mesh's scheduler");
  } finally {
    await signer.stop();
    await bus.close();
  }
});
