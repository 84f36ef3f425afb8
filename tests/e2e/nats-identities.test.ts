// The mesh on a nats-server configured as deploy/nats/ says: TLS, one user per tier and per
// worker (deploy/nats/identities.conf, copied unchanged), JetStream encrypted at rest. The tiers
// run as real processes (the cache-signer and an autoscaler in this process), each with its own
// identity, and run jobs. While a job runs, every other identity is refused what is not its own:
// a second worker (other dispatches, others' replies under _INBOX, the records key, another
// worker's subjects including its instance acquire/release, cache URLs or an instance for a job it
// does not run, a forged record), each tier (what belongs to the others) and a job (no
// credentials, a wrong password); the worker running the job gets its cache URL and its instance.
// A scheduler restarted after its worker died still fails that worker's job at GitLab (it opens
// the job's sealed record), and the store on disk holds no token or masked value in clear.
import { afterAll, expect, test } from "bun:test";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { $, type Subprocess } from "bun";
import { type BusSettings, connectBus } from "../../libs/bus/connect.ts";
import { autoscalerSettingsSchema } from "../../libs/config/autoscaler-section.ts";
import { shortToken } from "../../libs/config/short-token.ts";
import { MemoryInstanceGroup } from "../../libs/fleeting/memory-instance-group.ts";
import { createLogger } from "../../libs/log/logger.ts";
import { jobKeyOf } from "../../libs/messages/job-key.ts";
import { recordsKey } from "../../libs/messages/record-seal.ts";
import {
  autoscalerAcquireRpc,
  autoscalerReleaseRpc,
  cacheSignRpcOf,
  JOBS_BUCKET,
  jobRecordSchema,
} from "../../libs/messages/subjects.ts";
import { Autoscaler } from "../../services/autoscaler/autoscaler.ts";
import { sealedJobs } from "../../services/autoscaler/job-binding.ts";
import { plannerSettings } from "../../services/autoscaler/planner-settings.ts";
import { startCacheSigner } from "../../services/cache-signer/signer.ts";
import { startCoordinator } from "../coordinator/coordinator.ts";
import { freePort } from "../infra/nats-server.ts";
import { configToml } from "./mesh-harness.ts";
import { type MeshProcess, spawnRunmesh } from "./processes.ts";

const ROOT = join(import.meta.dir, "..", "..");
const TOKEN = "glrt-identities-runner-0123456789";
const MASKED = "masked-identity-secret-8f3c2a";
const MASKED_B = "masked-restart-secret-4d1e9b";
const PASSWORDS = {
  RUNMESH_NATS_POLLER_PASSWORD: "poller-pw-1f2e",
  RUNMESH_NATS_SCHEDULER_PASSWORD: "scheduler-pw-3d4c",
  RUNMESH_NATS_WORKER_1_PASSWORD: "worker1-pw-5b6a",
  RUNMESH_NATS_WORKER_2_PASSWORD: "worker2-pw-7a8b",
  RUNMESH_NATS_CACHE_SIGNER_PASSWORD: "signer-pw-9c0d",
  RUNMESH_NATS_AUTOSCALER_PASSWORD: "autoscaler-pw-1e2f",
};
const dir = mkdtempSync(join(tmpdir(), "runmesh-nats-ids-"));
const cleanups: (() => Promise<unknown> | unknown)[] = [() => rmSync(dir, { recursive: true, force: true })];

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A CA and a server certificate for 127.0.0.1 (test-infra.md §6). */
async function tlsFiles(): Promise<{ ca: string; cert: string; key: string }> {
  const t = join(dir, "tls");
  mkdirSync(t);
  await $`openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=runmesh-test-ca -keyout ca.key -out ca.pem`
    .cwd(t)
    .quiet();
  await $`openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr`
    .cwd(t)
    .quiet();
  writeFileSync(
    join(t, "san.ext"),
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
  );
  await $`openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile san.ext -out server.pem`
    .cwd(t)
    .quiet();
  return { ca: join(t, "ca.pem"), cert: join(t, "server.pem"), key: join(t, "server.key") };
}

async function startSecureNats(): Promise<{
  url: string;
  storeDir: string;
  log: () => string;
  caFile: string;
}> {
  const tls = await tlsFiles();
  const port = await freePort();
  const storeDir = join(dir, "store");
  copyFileSync(join(ROOT, "deploy", "nats", "identities.conf"), join(dir, "identities.conf"));
  // deploy/nats/nats.conf with this test's port, store and certificates; identities unchanged.
  writeFileSync(
    join(dir, "nats.conf"),
    `listen: 127.0.0.1:${port}
jetstream { store_dir: "${storeDir}", max_memory_store: 64MB, max_file_store: 1GB, cipher: chachapoly, key: $RUNMESH_NATS_STORE_KEY }
tls { cert_file: "${tls.cert}", key_file: "${tls.key}", timeout: 2 }
include ./identities.conf
`,
  );
  const logFile = join(dir, "nats.log");
  const proc: Subprocess = Bun.spawn(["nats-server", "-c", join(dir, "nats.conf"), "-l", logFile], {
    env: { ...process.env, ...PASSWORDS, RUNMESH_NATS_STORE_KEY: "store-key-0123456789abcdef" },
    stdout: "ignore",
    stderr: "pipe",
  });
  cleanups.push(async () => {
    proc.kill("SIGTERM");
    await proc.exited;
  });
  const url = `tls://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (readLog(logFile).includes("Server is ready")) break;
    if (proc.exitCode !== null)
      throw new Error(
        `nats-server refused ${dir}/nats.conf: ${await new Response(proc.stderr as ReadableStream).text()}`,
      );
    await Bun.sleep(50);
  }
  return { url, storeDir, log: () => readLog(logFile), caFile: tls.ca };
}

function readLog(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function filesUnder(d: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (statSync(p).isFile()) out.push(p);
  }
  return out;
}

/** What the server answers when `nc` subscribes to `subject`: "ok" or the error it reported. */
async function trySubscribe(nc: NatsConnection, subject: string): Promise<string> {
  const sub = nc.subscribe(subject);
  const closed = sub.closed.then((e) => (e ? String(e.message ?? e) : "closed"));
  const verdict = await Promise.race([closed, nc.flush().then(() => Bun.sleep(300).then(() => "ok"))]);
  sub.unsubscribe();
  return verdict;
}

/** Asks `subject` as `nc`'s user, expecting the server to refuse the publish and log it. */
async function refusedPublish(
  nats: { log: () => string },
  nc: NatsConnection,
  user: string,
  subject: string,
): Promise<void> {
  const answer = await nc.request(subject, "{}", { timeout: 700 }).then(
    () => "answered",
    (e: Error) => e.message,
  );
  expect({ user, subject, answer }).not.toEqual({ user, subject, answer: "answered" });
  const line = `Publish Violation - User "${user}", Subject "${subject}"`;
  for (let i = 0; i < 40 && !nats.log().includes(line); i++) await Bun.sleep(50);
  expect(nats.log()).toContain(line);
}

async function refusedSubscribe(nc: NatsConnection, user: string, subject: string): Promise<void> {
  expect({ user, subject, verdict: await trySubscribe(nc, subject) }).toMatchObject({
    verdict: expect.stringMatching(/permissions violation/i),
  });
}

test("tiers with their own NATS identities run jobs; every other identity is refused what is not its own; a restarted scheduler fails a lost worker's job; the store holds no token in clear", async () => {
  const nats = await startSecureNats();
  const coordinator = await startCoordinator({ longPollMs: 1000, traceUpdateIntervalS: 1 });
  cleanups.push(() => coordinator.stop());
  coordinator.registerRunner(TOKEN);
  const config = join(dir, "config.toml");
  writeFileSync(
    config,
    configToml({
      url: coordinator.url,
      concurrent: 2,
      runners: [{ name: "ids", token: TOKEN }],
      // Lost after 8 s: a loaded machine may hold a heartbeat back past the 2 s of other tests.
      mesh: { nats_url: nats.url, nats_tls_ca_file: nats.caFile, worker_lost_after: "8s" },
    }),
  );
  const meshToml = join(dir, "mesh.toml");
  writeFileSync(
    meshToml,
    `[mesh]\nnats_url = "${nats.url}"\nnats_tls_ca_file = "${nats.caFile}"\nnats_user = "worker-1"\nnats_password = "${PASSWORDS.RUNMESH_NATS_WORKER_1_PASSWORD}"\nheartbeat_interval = "200ms"\nworker_slots = 2\ndata_dir = "${join(dir, "worker")}"\n`,
  );
  const tier = (user: string, password: string) => ({
    RUNMESH_NATS_USER: user,
    RUNMESH_NATS_PASSWORD: password,
  });
  const startScheduler = () =>
    spawnRunmesh(["scheduler", "--config", config], {
      env: tier("scheduler", PASSWORDS.RUNMESH_NATS_SCHEDULER_PASSWORD),
    });
  const procs: MeshProcess[] = [
    startScheduler(),
    spawnRunmesh(["worker", "--config", meshToml, "--id", "worker-1"]),
    spawnRunmesh(["poller", "--config", config], {
      env: tier("poller", PASSWORDS.RUNMESH_NATS_POLLER_PASSWORD),
    }),
  ];
  const [, worker1] = procs as [MeshProcess, MeshProcess, MeshProcess];
  cleanups.push(async () => {
    for (const p of procs) p.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exited));
  });
  for (const p of procs) await p.waitFor("runmesh ready", 30_000);
  // The cache-signer in this process, with its own identity and an S3 cache for the runner entry.
  const busAs = async (user: string, password: string) => {
    const settings: BusSettings = {
      nats_url: nats.url,
      nats_tls_ca_file: nats.caFile,
      nats_user: user,
      nats_password: password,
    };
    const bus = await connectBus(settings, `test-${user}`);
    cleanups.push(() => bus.close().catch(() => {}));
    return bus;
  };
  const signer = await startCacheSigner({
    bus: await busAs("cache-signer", PASSWORDS.RUNMESH_NATS_CACHE_SIGNER_PASSWORD),
    logger: createLogger({ service: "cache-signer", level: "error", destination: { write: () => {} } }),
    caches: new Map([
      [
        shortToken(TOKEN),
        {
          Type: "s3",
          Shared: false,
          s3: {
            ServerAddress: "127.0.0.1:9",
            BucketName: "ci-cache",
            Insecure: true,
            AccessKey: "AKIAIDENTITIES",
            SecretKey: "identities-s3-secret",
          },
        },
      ],
    ]),
  });
  cleanups.push(() => signer.stop());

  // A payload too big for messages goes through the payload store (stored encrypted) under the
  // poller's, the worker's and the scheduler's permissions.
  const BIG = `big-payload-secret-${"y".repeat(2 * 1024 * 1024)}`;
  const jobL = coordinator.enqueueJob(TOKEN, {
    script: ['wc -c < "$BIG"'],
    gitStrategy: "none",
    variables: [{ key: "BIG", value: BIG, file: true }],
  });
  const doneL = await coordinator.waitForFinal(jobL.id, 60_000);
  expect({
    status: doneL.status,
    trace: doneL.status === "success" ? "" : doneL.traceText.slice(-2000),
  }).toEqual({
    status: "success",
    trace: "",
  });
  expect(doneL.traceText).toContain(String(BIG.length));

  // Job A waits for a flag file, so the probes below run while it is running on worker-1.
  const flag = join(dir, "release-a");
  const jobA = coordinator.enqueueJob(TOKEN, {
    script: [`while [ ! -f ${flag} ]; do sleep 0.1; done; echo ran with identities`],
    gitStrategy: "none",
    variables: [{ key: "IDENTITY_SECRET", value: MASKED, masked: true }],
    cache: [{ key: "deps-non_protected", paths: ["vendor/"], policy: "pull-push", untracked: false }],
  });
  await coordinator.waitForJob(jobA.id, (j) => j.status === "running", 30_000);
  const keyA = jobKeyOf(coordinator.url, jobA.id);
  const signOn = (bus: Awaited<ReturnType<typeof busAs>>, asker: string, named: string, jobKey = keyA) =>
    bus.request(cacheSignRpcOf(asker), { workerId: named, jobKey, key: "deps-non_protected", op: "get" });
  // The worker running the job gets its URL: the signer opened the sealed record under identities.
  const w1 = await busAs("worker-1", PASSWORDS.RUNMESH_NATS_WORKER_1_PASSWORD);
  for (let i = 0; i < 50; i++) {
    if ((await signOn(w1, "worker-1", "worker-1")).ok) break;
    await Bun.sleep(100); // the record says "running" a moment after GitLab does
  }
  expect(await signOn(w1, "worker-1", "worker-1")).toMatchObject({ ok: true });
  // The autoscaler tier under its own identity (an in-memory group for job A's runner entry)
  // reads job A's sealed record: worker-1, which runs it, gets an instance; worker-2 can neither
  // get one for job A nor release worker-1's. Its capacity reports live past this test's end
  // (lease TTL), so the scheduler never takes the group for one without an active autoscaler.
  const w2 = await busAs("worker-2", PASSWORDS.RUNMESH_NATS_WORKER_2_PASSWORD);
  const groupKey = (await (await w1.kv(JOBS_BUCKET, jobRecordSchema)).get(keyA))!.value.job.runnerKey;
  const asBus = await busAs("autoscaler", PASSWORDS.RUNMESH_NATS_AUTOSCALER_PASSWORD);
  const autoscaler = new Autoscaler({
    bus: asBus,
    group: new MemoryInstanceGroup(),
    groupKey,
    runnerName: "ids",
    autoscalerId: "as-ids",
    settings: plannerSettings(
      autoscalerSettingsSchema.parse({ update_interval: "100ms", update_interval_when_expecting: "20ms" }),
    ),
    logger: createLogger({ service: "autoscaler", level: "error", destination: { write: () => {} } }),
    jobs: sealedJobs(asBus),
    leaseTtlMs: 300_000,
  });
  await autoscaler.start();
  cleanups.push(() => autoscaler.stop());
  const acquireA = (bus: typeof w1, worker: string) =>
    bus.request(autoscalerAcquireRpc(groupKey, worker), { key: keyA, waitMs: 10_000 }, { timeoutMs: 5000 });
  let instance = await acquireA(w1, "worker-1");
  for (let i = 0; i < 200 && !instance.acquired && !instance.refused; i++) {
    await Bun.sleep(50); // the group makes an instance for the waiting job
    instance = await acquireA(w1, "worker-1");
  }
  expect(instance).toMatchObject({ acquired: true });
  expect(await acquireA(w2, "worker-2")).toMatchObject({
    acquired: false,
    refused: true,
    reason: expect.stringContaining('the job runs on worker "worker-1"'),
  });
  const release = (bus: typeof w1, worker: string) =>
    bus.request(autoscalerReleaseRpc(groupKey, worker), { key: keyA }, { timeoutMs: 5000 });
  expect(await release(w2, "worker-2")).toMatchObject({
    released: false,
    reason: expect.stringContaining('worker "worker-1" holds it'),
  });
  expect(await release(w1, "worker-1")).toEqual({ released: true });
  // Every tier had the permissions it needed: the server refused nothing so far.
  expect(nats.log().match(/.*Violation.*/g) ?? []).toEqual([]);

  // A second worker: its own dispatch subject yes; everything of worker-1's and the others' no.
  const nc = await connect({
    servers: [nats.url],
    user: "worker-2",
    pass: PASSWORDS.RUNMESH_NATS_WORKER_2_PASSWORD,
    tls: { caFile: nats.caFile },
  });
  cleanups.push(() => nc.close());
  expect(await trySubscribe(nc, "runmesh.worker.worker-2.dispatch")).toBe("ok");
  for (const subject of [
    "runmesh.worker.worker-1.dispatch",
    "runmesh.worker.*.dispatch",
    "runmesh.jobs.accepted",
    // Replies: the scheduler's KV reads, worker-1's signed URLs, anyone's.
    "_INBOX.>",
    "_INBOX_scheduler.>",
    "_INBOX_worker-1.>",
    "_INBOX_cache-signer.>",
    ">",
  ])
    await refusedSubscribe(nc, "worker-2", subject);
  for (const subject of [
    // The accepted-jobs stream, runner state, the records key (each way JetStream reads).
    "$JS.API.CONSUMER.CREATE.RUNMESH_accepted-jobs",
    "$JS.API.DIRECT.GET.KV_runmesh-runners.anything",
    "$JS.API.DIRECT.GET.KV_runmesh-keys.$KV.runmesh-keys.records",
    "$JS.API.STREAM.MSG.GET.KV_runmesh-keys",
    "$JS.API.CONSUMER.CREATE.KV_runmesh-keys",
    // Streams: one made or changed with extra subjects would capture other workers' dispatches.
    "$JS.API.STREAM.CREATE.KV_runmesh-jobs",
    "$JS.API.STREAM.UPDATE.OBJ_runmesh-payloads",
    "$JS.API.STREAM.CREATE.CAPTURE",
    // Slot leases are the pollers'; worker-1's subjects are worker-1's.
    "runmesh.scheduler.lease.acquire",
    "runmesh.worker.worker-1.heartbeat",
    "runmesh.worker.worker-1.event",
    "runmesh.cache.sign.worker-1",
    // Instances worker-1 holds: worker-2 can neither release them nor acquire in worker-1's name.
    "runmesh.autoscaler.ids.acquire.worker-1",
    "runmesh.autoscaler.ids.release.worker-1",
    "runmesh.autoscaler.ids.release",
  ])
    await refusedPublish(nats, nc, "worker-2", subject);
  // What it may read of job A's record over the wire holds neither the token nor the variable.
  const records = await w2.kv(JOBS_BUCKET, jobRecordSchema);
  const recordA = await records.get(keyA);
  expect(recordA?.value).toMatchObject({ state: "running", workerId: "worker-1" });
  const seen = JSON.stringify(recordA);
  expect([seen.includes(jobA.token), seen.includes(MASKED), recordA!.value.sealed.length > 0]).toEqual([
    false,
    false,
    true,
  ]);
  // Cache URLs for job A: naming worker-1 on its own subject, or itself, it is refused by the signer.
  const impersonating = await signOn(w2, "worker-2", "worker-1");
  expect(impersonating.ok).toBe(false);
  expect(impersonating.reason).toContain('worker "worker-2" asked naming worker "worker-1"');
  const notItsJob = await signOn(w2, "worker-2", "worker-2");
  expect(notItsJob).toMatchObject({
    ok: false,
    reason: expect.stringContaining('runs on worker "worker-1"'),
  });
  // A record it forges (job A's seal under another job's key, naming itself) opens for nobody.
  const forgedKey = jobKeyOf(coordinator.url, jobA.id + 1000);
  await records.put(forgedKey, { ...recordA!.value, workerId: "worker-2" });
  const forged = await signOn(w2, "worker-2", "worker-2", forgedKey);
  expect(forged).toMatchObject({ ok: false, reason: expect.stringContaining("not sealed by this mesh") });
  await records.delete(forgedKey);

  // Each tier is refused what belongs to the others.
  const as = async (user: string, password: string) => {
    const c = await connect({ servers: [nats.url], user, pass: password, tls: { caFile: nats.caFile } });
    cleanups.push(() => c.close());
    return c;
  };
  const tiers = {
    poller: await as("poller", PASSWORDS.RUNMESH_NATS_POLLER_PASSWORD),
    scheduler: await as("scheduler", PASSWORDS.RUNMESH_NATS_SCHEDULER_PASSWORD),
    "cache-signer": await as("cache-signer", PASSWORDS.RUNMESH_NATS_CACHE_SIGNER_PASSWORD),
    autoscaler: await as("autoscaler", PASSWORDS.RUNMESH_NATS_AUTOSCALER_PASSWORD),
  };
  for (const [user, subject] of [
    ["poller", "runmesh.worker.worker-1.dispatch"],
    ["poller", "_INBOX_scheduler.>"],
    ["scheduler", "_INBOX_worker-1.>"],
    ["cache-signer", "runmesh.worker.worker-1.dispatch"],
    ["autoscaler", "runmesh.cache.sign.*"],
  ] as const)
    await refusedSubscribe(tiers[user], user, subject);
  for (const [user, subject] of [
    ["poller", "$JS.API.DIRECT.GET.KV_runmesh-keys.$KV.runmesh-keys.records"],
    ["poller", "$JS.API.STREAM.MSG.GET.KV_runmesh-jobs"],
    ["scheduler", "runmesh.cache.sign.worker-1"],
    ["cache-signer", "runmesh.scheduler.lease.acquire"],
    ["cache-signer", `$KV.runmesh-jobs.${keyA}`],
    ["cache-signer", "$JS.API.STREAM.UPDATE.KV_runmesh-jobs"],
    ["autoscaler", "$JS.API.STREAM.UPDATE.KV_runmesh-autoscaler-groups"],
    ["autoscaler", `$KV.runmesh-jobs.${keyA}`],
    ["autoscaler", "$JS.API.STREAM.UPDATE.KV_runmesh-jobs"],
    ["autoscaler", "runmesh.worker.worker-1.dispatch"],
  ] as const)
    await refusedPublish(nats, tiers[user], user, subject);
  // The autoscaler hears every worker's own acquire/release subject, and only what that worker
  // sent: worker-2's release in worker-1's name (sent first, so it would arrive first) never comes.
  const heard: string[] = [];
  const releases = tiers.autoscaler.subscribe("runmesh.autoscaler.*.release.*", {
    callback: (_e, m) => {
      heard.push(m.subject);
    },
  });
  await tiers.autoscaler.flush();
  nc.publish("runmesh.autoscaler.ids.release.worker-1", "{}");
  nc.publish("runmesh.autoscaler.ids.release.worker-2", "{}");
  await nc.flush();
  for (let i = 0; i < 100 && heard.length === 0; i++) await Bun.sleep(20);
  expect(heard).toEqual(["runmesh.autoscaler.ids.release.worker-2"]);
  releases.unsubscribe();

  // A job on a worker host, as it could try: no credentials, or a worker's name with a guess.
  for (const creds of [{}, { user: "worker-1", pass: "guessed" }, { user: "worker-1" }]) {
    const refused = await connect({ servers: [nats.url], tls: { caFile: nats.caFile }, ...creds }).then(
      async (c) => {
        await c.close();
        return "connected";
      },
      (e: Error) => e.message,
    );
    expect({ creds, refused }).toMatchObject({ refused: expect.stringMatching(/authorization/i) });
  }

  writeFileSync(flag, "");
  const doneA = await coordinator.waitForFinal(jobA.id, 60_000);
  expect(doneA.status).toBe("success");
  expect(doneA.traceText).toContain("ran with identities");

  // Job B: worker-1 and the scheduler die while it runs; a new scheduler fails it at GitLab.
  const jobB = coordinator.enqueueJob(TOKEN, {
    script: ["for i in $(seq 300); do echo b $i; sleep 0.2; done"],
    gitStrategy: "none",
    variables: [{ key: "RESTART_SECRET", value: MASKED_B, masked: true }],
  });
  await coordinator.waitForJob(jobB.id, (j) => j.traceText.includes("b 3"), 30_000);

  worker1.kill("SIGKILL");
  procs[0]!.kill("SIGKILL");
  await Promise.all([worker1.exited, procs[0]!.exited]);
  const successor = startScheduler();
  procs.push(successor);
  await successor.waitFor("runmesh ready", 30_000);
  const doneB = await coordinator.waitForFinal(jobB.id, 30_000).catch((e) => {
    console.error(successor.lines.slice(-40).join("\n"));
    throw e;
  });

  expect(doneB).toMatchObject({ status: "failed", failureReason: "runner_system_failure" });
  expect(doneB.traceText).toContain('"worker-1" was lost');

  // Secrets at rest: no token and no masked value is anywhere in the store in clear.
  const files = filesUnder(nats.storeDir);
  expect(files.some((f) => f.includes("KV_runmesh-jobs"))).toBe(true);
  // The records key too: on disk only JetStream's encryption at rest keeps it from opening records.
  const schedulerBus = await busAs("scheduler", PASSWORDS.RUNMESH_NATS_SCHEDULER_PASSWORD);
  const recordsKeyText = Buffer.from((await recordsKey(schedulerBus, { create: false }))!).toString("base64");
  const secrets = [
    TOKEN,
    jobL.token,
    jobA.token,
    jobB.token,
    MASKED,
    MASKED_B,
    "big-payload-secret-",
    recordsKeyText,
  ];
  const leaks = files.flatMap((f) => {
    const bytes = readFileSync(f);
    return secrets.filter((s) => bytes.includes(s)).map((s) => `${f}: ${s.slice(0, 6)}…`);
  });
  expect(leaks).toEqual([]);
}, 180_000);
