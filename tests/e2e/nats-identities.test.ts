// The mesh on a nats-server configured as deploy/nats/ says: TLS, one user per tier and per
// worker (deploy/nats/identities.conf, copied unchanged), JetStream encrypted at rest. The tiers
// run as real processes, each with its own identity, and run a job; then a worker's identity is
// refused another worker's dispatch subject and the accepted-jobs stream, and the store on disk
// holds neither the job token nor a masked variable in clear.
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
import { startCoordinator } from "../coordinator/coordinator.ts";
import { freePort } from "../infra/nats-server.ts";
import { configToml } from "./mesh-harness.ts";
import { type MeshProcess, spawnRunmesh } from "./processes.ts";

const ROOT = join(import.meta.dir, "..", "..");
const TOKEN = "glrt-identities-runner-0123456789";
const MASKED = "masked-identity-secret-8f3c2a";
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

test("tiers with their own NATS identities run a job; a worker is refused other dispatches and the accepted-jobs stream; the store holds no token in clear", async () => {
  const nats = await startSecureNats();
  const coordinator = await startCoordinator({ longPollMs: 1000 });
  cleanups.push(() => coordinator.stop());
  coordinator.registerRunner(TOKEN);
  const config = join(dir, "config.toml");
  writeFileSync(
    config,
    configToml({
      url: coordinator.url,
      concurrent: 1,
      runners: [{ name: "ids", token: TOKEN }],
      mesh: { nats_url: nats.url, nats_tls_ca_file: nats.caFile },
    }),
  );
  const meshToml = join(dir, "mesh.toml");
  writeFileSync(
    meshToml,
    `[mesh]\nnats_url = "${nats.url}"\nnats_tls_ca_file = "${nats.caFile}"\nnats_user = "worker-1"\nnats_password = "${PASSWORDS.RUNMESH_NATS_WORKER_1_PASSWORD}"\nheartbeat_interval = "200ms"\ndata_dir = "${join(dir, "worker")}"\n`,
  );
  const tier = (user: string, password: string) => ({
    RUNMESH_NATS_USER: user,
    RUNMESH_NATS_PASSWORD: password,
  });
  const procs: MeshProcess[] = [
    spawnRunmesh(["scheduler", "--config", config], {
      env: tier("scheduler", PASSWORDS.RUNMESH_NATS_SCHEDULER_PASSWORD),
    }),
    spawnRunmesh(["worker", "--config", meshToml, "--id", "worker-1"]),
    spawnRunmesh(["poller", "--config", config], {
      env: tier("poller", PASSWORDS.RUNMESH_NATS_POLLER_PASSWORD),
    }),
  ];
  cleanups.push(async () => {
    for (const p of procs) p.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exited));
  });
  for (const p of procs) await p.waitFor("runmesh ready", 30_000);

  const job = coordinator.enqueueJob(TOKEN, {
    script: ["echo ran with identities"],
    gitStrategy: "none",
    variables: [{ key: "IDENTITY_SECRET", value: MASKED, masked: true }],
  });
  const done = await coordinator.waitForFinal(job.id, 60_000);
  expect(done.status).toBe("success");
  expect(done.traceText).toContain("ran with identities");
  // Every tier had the permissions it needed: the server refused nothing while the job ran.
  expect(nats.log().match(/.*Violation.*/g) ?? []).toEqual([]);

  // A worker's identity: its own dispatch subject yes, another worker's and the accepted jobs no.
  const nc = await connect({
    servers: [nats.url],
    user: "worker-2",
    pass: PASSWORDS.RUNMESH_NATS_WORKER_2_PASSWORD,
    tls: { caFile: nats.caFile },
  });
  cleanups.push(() => nc.close());
  expect(await trySubscribe(nc, "runmesh.worker.worker-2.dispatch")).toBe("ok");
  expect(await trySubscribe(nc, "runmesh.worker.worker-1.dispatch")).toMatch(/permissions violation/i);
  expect(await trySubscribe(nc, "runmesh.worker.*.dispatch")).toMatch(/permissions violation/i);
  expect(await trySubscribe(nc, "runmesh.jobs.accepted")).toMatch(/permissions violation/i);
  // Reading the accepted-jobs stream through JetStream: a consumer on it is refused too.
  const consumer = await nc
    .request(
      "$JS.API.CONSUMER.CREATE.RUNMESH_accepted-jobs",
      JSON.stringify({ stream_name: "RUNMESH_accepted-jobs", config: { ack_policy: "explicit" } }),
      { timeout: 2000 },
    )
    .then(
      () => "answered",
      (e: Error) => e.message,
    );
  expect(consumer).not.toBe("answered");
  expect(nats.log()).toMatch(
    /Publish Violation - User "worker-2", Subject "\$JS\.API\.CONSUMER\.CREATE\.RUNMESH_accepted-jobs"/,
  );
  // Nor may it take slot leases (the scheduler's) or read runner state (the pollers').
  for (const subject of [
    "runmesh.scheduler.lease.acquire",
    "$JS.API.DIRECT.GET.KV_runmesh-runners.anything",
  ]) {
    const answer = await nc.request(subject, "{}", { timeout: 1000 }).then(
      () => "answered",
      (e: Error) => e.message,
    );
    expect({ subject, answer }).not.toEqual({ subject, answer: "answered" });
    await nc.flush();
    expect(nats.log()).toContain(`Publish Violation - User "worker-2", Subject "${subject}"`);
  }

  // Secrets at rest: the job token and the masked value are nowhere in the store in clear.
  const files = filesUnder(nats.storeDir);
  expect(files.some((f) => f.includes("KV_runmesh-jobs"))).toBe(true);
  const leaks = files.filter((f) => {
    const bytes = readFileSync(f);
    return bytes.includes(job.token) || bytes.includes(MASKED) || bytes.includes(TOKEN);
  });
  expect(leaks).toEqual([]);
}, 120_000);
