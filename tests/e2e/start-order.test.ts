// Start-up order does not matter (issue 13): the scheduler, a worker and the poller are started
// while nothing listens on the NATS port; each logs that it waits and retries instead of exiting,
// and once nats-server comes up on that port they connect and run a job end to end.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { freePort, type NatsServer, startNatsServer } from "../infra/nats-server.ts";
import { configToml } from "./mesh-harness.ts";
import { type MeshProcess, spawnRunmesh } from "./processes.ts";

const TOKEN = "glrt-start-order-0123456789";
let nats: NatsServer | undefined;
let coordinator: Coordinator | undefined;
const procs: MeshProcess[] = [];

afterEach(async () => {
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
  procs.length = 0;
  await coordinator?.stop();
  await nats?.stop();
});

test("tiers started before nats-server wait with a log line, then connect and run a job", async () => {
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  coordinator = await startCoordinator({ longPollMs: 2000 });
  coordinator.registerRunner(TOKEN);
  const config = join(mkdtempSync(join(tmpdir(), "runmesh-start-order-")), "config.toml");
  writeFileSync(
    config,
    configToml({
      url: coordinator.url,
      concurrent: 1,
      runners: [{ name: "early", token: TOKEN }],
      mesh: { nats_url: url },
    }),
  );
  const tiers = (["scheduler", "worker", "poller"] as const).map((mode) => {
    const p = spawnRunmesh([mode, "--config", config, ...(mode === "worker" ? ["--id", "early"] : [])]);
    procs.push(p);
    return p;
  });
  const waiting = `waiting for NATS at ${url}: connection refused; retrying in`;
  // Each tier retries at least twice (1 s, then 2 s) while the port stays closed.
  for (const p of tiers) await p.waitFor(`${waiting} 2s`, 20_000);
  for (const p of tiers) expect(p.proc.exitCode).toBeNull();

  nats = await startNatsServer({ port });
  for (const p of tiers) await p.waitFor("runmesh ready", 20_000);
  for (const p of tiers) expect(p.lines.some((l) => l.includes(`NATS at ${url} is reachable`))).toBe(true);

  const job = coordinator.enqueueJob(TOKEN, { script: ["echo started after nats"], gitStrategy: "none" });
  const done = await coordinator.waitForFinal(job.id, 30_000);
  expect(done.status).toBe("success");
  expect(done.traceText).toContain("started after nats");
}, 90_000);
