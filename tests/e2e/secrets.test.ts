// Secrets stay in their tier: after an end-to-end run over NATS, neither any log line of any
// tier nor any message that crossed the bus (a raw subscription to every subject, JetStream and
// KV traffic included) contains a runner token; workers start from [mesh] settings alone.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { loadMeshSettings } from "../../services/executor-worker/mesh-settings.ts";
import { startCoordinator } from "../coordinator/coordinator.ts";
import { type NatsServer, startNatsServer } from "../infra/nats-server.ts";
import { configToml, startMesh } from "./mesh-harness.ts";

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});

const TOKENS = ["glrt-secret-one-Zq7bX9kP2mL4", "glrt-secret-two-Hf3nV8cR1tY6"];

test("no runner token appears in any log line or bus message of an end-to-end run", async () => {
  const c = await startCoordinator({ longPollMs: 2000, traceUpdateIntervalS: 1 });
  for (const t of TOKENS) c.registerRunner(t);
  const tap = await connect({ servers: nats.url, name: "secret-tap" });
  const seen: string[] = [];
  const dec = new TextDecoder();
  const sub = tap.subscribe(">");
  void (async () => {
    for await (const m of sub) {
      const headers = m.headers
        ? [...m.headers.keys()].map((k) => `${k}:${m.headers?.get(k)}`).join(" ")
        : "";
      seen.push(`${m.subject} ${headers} ${dec.decode(m.data)}`);
    }
  })();
  const mesh = await startMesh({
    transport: "nats",
    natsUrl: nats.url,
    config: {
      url: c.url,
      concurrent: 2,
      runners: TOKENS.map((token, i) => ({ name: `secret-${i}`, token })),
    },
  });
  try {
    const jobs = TOKENS.map((t) =>
      c.enqueueJob(t, { script: ["echo job with a token around"], gitStrategy: "none" }),
    );
    for (const j of jobs) expect((await c.waitForFinal(j.id, 20_000)).status).toBe("success");
  } finally {
    await mesh.stop();
    await tap.flush();
    await sub.drain();
    await tap.close();
    await c.stop();
  }
  // The run did produce traffic and logs: an empty scan would prove nothing.
  expect(seen.some((m) => m.includes("runmesh.jobs.accepted"))).toBe(true);
  expect(seen.some((m) => m.includes("$KV."))).toBe(true);
  expect(mesh.logs.length).toBeGreaterThan(10);
  for (const token of TOKENS) {
    expect(seen.filter((m) => m.includes(token))).toEqual([]);
    expect(mesh.logs.filter((l) => l.includes(token))).toEqual([]);
  }
  // What did travel: the job token (the worker needs it), proving the scan looks at payloads.
  expect(seen.some((m) => m.includes("glcbt-") || m.includes('"jobToken"'))).toBe(true);
});

test("a worker starts from a config with runner entries but keeps only [mesh]", async () => {
  const dir = mkdtempSync(join(tmpdir(), "runmesh-meshonly-"));
  const path = join(dir, "config.toml");
  writeFileSync(
    path,
    configToml({
      url: "http://127.0.0.1:9",
      concurrent: 3,
      runners: [{ name: "x", token: TOKENS[0]! }],
      mesh: { nats_url: nats.url },
    }),
  );
  const { mesh } = await loadMeshSettings(path, {});
  expect(JSON.stringify(mesh)).not.toContain(TOKENS[0]!);
  expect(mesh.nats_url).toBe(nats.url);
  expect(mesh.worker_slots).toBe(3);
  const meshOnly = join(dir, "mesh.toml");
  writeFileSync(meshOnly, `[mesh]\nnats_url = "${nats.url}"\nworker_slots = 2\n`);
  expect((await loadMeshSettings(meshOnly, {})).mesh.worker_slots).toBe(2);
});
