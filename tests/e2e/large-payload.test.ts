// Job payloads beyond NATS's max_payload (1 MiB by default): a job with a 2 MiB or a 20 MiB
// variable runs over a real nats-server as it does in one process, its payload handed over
// through the mesh's object store and deleted when the job ends; a payload that cannot be
// stored fails its job at GitLab with a line saying why. Payloads never reach the logs.
import { afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bus } from "../../libs/bus/bus.ts";
import { connectNatsBus } from "../../libs/bus/nats-bus.ts";
import { PAYLOADS_STORE } from "../../libs/messages/payload-handover.ts";
import { JOBS_BUCKET, jobRecordSchema } from "../../libs/messages/subjects.ts";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import type { JobSpec } from "../coordinator/job-payload.ts";
import { type NatsServer, startNatsServer } from "../infra/nats-server.ts";
import { configToml, type Mesh, startMesh, type Transport } from "./mesh-harness.ts";
import { type MeshProcess, spawnRunmesh } from "./processes.ts";

const MiB = 1024 * 1024;
const TOKEN = "glrt-bigpay-0123456789abcdef";

let nats: NatsServer | undefined;
let coordinator: Coordinator | undefined;
let mesh: Mesh | undefined;
let probe: Bus | undefined;
let procs: MeshProcess[] = [];

afterEach(async () => {
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
  procs = [];
  await mesh?.stop();
  await probe?.close().catch(() => {});
  await coordinator?.stop();
  await nats?.stop();
  mesh = probe = coordinator = nats = undefined;
});

/** A value that differs along its length and starts and ends with markers. */
function bigValue(bytes: number): string {
  const unit = "runmesh-large-payload-0123456789-";
  const body = unit.repeat(Math.ceil(bytes / unit.length)).slice(0, bytes - 16);
  return `HEAD1234${body}TAIL5678`;
}

async function start(transport: Transport): Promise<{ c: Coordinator; m: Mesh }> {
  if (transport === "nats") nats ??= await startNatsServer();
  coordinator = await startCoordinator({ longPollMs: 2000, traceUpdateIntervalS: 1 });
  coordinator.registerRunner(TOKEN);
  mesh = await startMesh({
    transport,
    natsUrl: nats?.url,
    config: { url: coordinator.url, concurrent: 2, runners: [{ name: "big", token: TOKEN }] },
  });
  return { c: coordinator, m: mesh };
}

describe("job payloads beyond NATS's max_payload", () => {
  for (const transport of ["nats", "inproc"] as const)
    test(`a job with a 2 MiB variable runs to success with its value intact (${transport})`, async () => {
      const { c, m } = await start(transport);
      // A file variable: an environment string over 128 KiB would stop every exec (E2BIG), with
      // GitLab Runner too; the payload carries the value either way.
      const value = bigValue(2 * MiB);
      const sha = createHash("sha256").update(value).digest("hex");
      const spec: JobSpec = {
        script: ['wc -c < "$BIG"', 'sha256sum "$BIG"'],
        gitStrategy: "none",
        variables: [{ key: "BIG", value, file: true }],
      };
      const j = c.enqueueJob(TOKEN, spec);
      const done = await c.waitForFinal(j.id, 60_000);
      expect(done.status).toBe("success");
      expect(done.traceText).toContain(String(value.length));
      expect(done.traceText).toContain(sha);
      // The payload (with the job token) is in no log line.
      const logs = m.logs.join("\n");
      expect(logs).not.toContain("runmesh-large-payload-0123456789-runmesh");
      expect(logs).not.toContain(j.token);
    }, 90_000);

  test("a job with a 20 MiB file variable runs with one process per tier; its record holds no payload and the stored one is deleted at the end", async () => {
    nats = await startNatsServer();
    coordinator = await startCoordinator({ longPollMs: 2000, traceUpdateIntervalS: 1 });
    const c = coordinator;
    c.registerRunner(TOKEN);
    const path = join(mkdtempSync(join(tmpdir(), "runmesh-bigpay-")), "config.toml");
    // Heartbeats every second as by default. Lost after 15 s rather than 5: this test process
    // also serves the 20 MiB as the coordinator and drains every tier's log pipe, and on a loaded
    // machine a tier blocked writing its log misses beats (the defaults pass when it is not).
    writeFileSync(
      path,
      configToml({
        url: c.url,
        concurrent: 2,
        runners: [{ name: "big", token: TOKEN }],
        mesh: { nats_url: nats.url, heartbeat_interval: "1s", worker_lost_after: "15s" },
      }),
    );
    procs = ["scheduler", "worker", "poller"].map((mode) => spawnRunmesh([mode, "--config", path]));
    await Promise.all(procs.map((p) => p.waitFor("started")));
    const value = bigValue(20 * MiB);
    const sha = createHash("sha256").update(value).digest("hex");
    const j = c.enqueueJob(TOKEN, {
      script: ['wc -c < "$BIG_FILE"', 'sha256sum "$BIG_FILE"'],
      gitStrategy: "none",
      variables: [{ key: "BIG_FILE", value, file: true }],
    });
    const done = await c.waitForFinal(j.id, 120_000);
    expect(done.status).toBe("success");
    expect(done.traceText).toContain(String(value.length));
    expect(done.traceText).toContain(sha);
    probe = await connectNatsBus({ servers: nats.url, name: "probe" });
    const kv = await probe.kv(JOBS_BUCKET, jobRecordSchema);
    // The worker records the job as final after GitLab has the final PUT: wait for it (bounded).
    const record = async () => {
      const records = await Promise.all((await kv.keys()).map((k) => kv.get(k)));
      return records.find((r) => r?.value.job.jobId === j.id)?.value;
    };
    let rec = await record();
    for (let i = 0; i < 100 && rec?.state !== "final"; i++) {
      await Bun.sleep(100);
      rec = await record();
    }
    expect(rec?.state).toBe("final");
    // The record in KV carries a name and a size, not 20 MiB.
    expect(JSON.stringify(rec).length).toBeLessThan(64 * 1024);
    expect(rec?.job.payloadBlob?.bytes).toBeGreaterThan(20 * MiB);
    const store = await probe.blobs(PAYLOADS_STORE);
    let stored = await store.get(rec!.job.payloadBlob!.name);
    for (let i = 0; i < 100 && stored !== undefined; i++) {
      await Bun.sleep(100);
      stored = await store.get(rec!.job.payloadBlob!.name);
    }
    expect(stored).toBeUndefined();
    expect(procs.flatMap((p) => p.lines).join("\n")).not.toContain(
      "runmesh-large-payload-0123456789-runmesh",
    );
  }, 150_000);

  test("a payload the mesh cannot store fails its job at GitLab as runner_system_failure with a line saying why", async () => {
    nats = await startNatsServer();
    // An operator's small JetStream budget for payloads: 4 MiB in all.
    probe = await connectNatsBus({ servers: nats.url, name: "probe" });
    await probe.blobs(PAYLOADS_STORE, { maxBytes: 4 * MiB });
    const { c, m } = await start("nats");
    const j = c.enqueueJob(TOKEN, {
      script: ["echo must not run"],
      gitStrategy: "none",
      variables: [{ key: "BIG_FILE", value: bigValue(20 * MiB), file: true }],
    });
    const done = await c.waitForFinal(j.id, 60_000);
    expect(done.status).toBe("failed");
    expect(done.failureReason).toBe("runner_system_failure");
    expect(done.traceText).toContain("could not hand the job payload (20.0 MiB) to an executor worker");
    expect(done.traceText).not.toContain("must not run\n");
    // The poller released its lease: a small job right after runs.
    const next = c.enqueueJob(TOKEN, { script: ["echo small one"], gitStrategy: "none" });
    expect((await c.waitForFinal(next.id, 30_000)).status).toBe("success");
    expect(m.logs.join("\n")).not.toContain("runmesh-large-payload-0123456789-runmesh");
  }, 90_000);
});
