// Each tier, in a process of its own, exposes what it knows on its own listen address: the
// poller GitLab's API statuses and request concurrency, the scheduler concurrent, limit and
// slots, the worker its jobs; /readyz follows each tier's own condition.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInprocBus } from "../../libs/bus/inproc-bus.ts";
import { parseConfig } from "../../libs/config/index.ts";
import { createLogger } from "../../libs/log/logger.ts";
import { ProcessMetrics } from "../../libs/metrics/process-metrics.ts";
import { startWorkerService } from "../../services/executor-worker/main.ts";
import { startPollerService } from "../../services/poller/main.ts";
import { startSchedulerService } from "../../services/scheduler/main.ts";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { startNatsServer } from "../infra/nats-server.ts";
import { configToml } from "./mesh-harness.ts";
import { spawnRunmesh } from "./processes.ts";
import { hasSample, parsePromText, type Sample } from "./prom-text.ts";

const TOKEN = "glrt-tiers-runner-0123456789";
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

const version = { version: "test", revision: "test" };
const logger = (service: string) =>
  createLogger({ service, level: "warn", destination: { write: () => {} } });

async function scrape(pm: ProcessMetrics): Promise<{ base: string; samples: Sample[] }> {
  const served = await pm.served;
  if (!served) throw new Error("no metrics server started");
  const text = await (await fetch(`${served.server.url}/metrics`)).text();
  return { base: served.server.url, samples: parsePromText(text) };
}

test("poller, scheduler and worker each serve their own metrics and readiness on their own address", async () => {
  const coordinator: Coordinator = await startCoordinator({ longPollMs: 1000 });
  cleanups.push(() => coordinator.stop());
  coordinator.registerRunner(TOKEN);
  const { config } = parseConfig(
    configToml({ url: coordinator.url, concurrent: 3, runners: [{ name: "tiers", token: TOKEN, limit: 2 }] }),
    { source: "tiers.toml", hostname: "test-host" },
  );
  const bus = createInprocBus();
  cleanups.push(() => bus.close());
  const pm = {
    scheduler: new ProcessMetrics(version),
    worker: new ProcessMetrics(version),
    poller: new ProcessMetrics(version),
  };
  for (const p of Object.values(pm)) cleanups.push(() => p.close());
  const listenAddress = "127.0.0.1:0";
  const scheduler = await startSchedulerService({
    config,
    bus,
    logger: logger("scheduler"),
    listenAddress,
    metrics: pm.scheduler,
  });
  cleanups.push(() => scheduler.stop());
  const worker = await startWorkerService({
    mesh: config.mesh,
    bus,
    logger: logger("worker"),
    workerId: "w-tiers",
    listenAddress,
    metrics: pm.worker,
  });
  cleanups.push(() => worker.stop());
  const poller = await startPollerService({
    config,
    bus,
    logger: logger("poller"),
    systemId: "s_0123456789ab",
    pollerId: "p-tiers",
    listenAddress,
    metrics: pm.poller,
  });
  cleanups.push(() => poller.stopRequesting());

  const job = coordinator.enqueueJob(TOKEN, { script: ["echo hi"], gitStrategy: "none" });
  expect((await coordinator.waitForFinal(job.id, 30_000)).status).toBe("success");
  // The worker counts the job once its final update is through.
  let w = await scrape(pm.worker);
  for (let i = 0; i < 50 && !hasSample(w.samples, "gitlab_runner_job_duration_seconds_count"); i++) {
    await Bun.sleep(100);
    w = await scrape(pm.worker);
  }
  const p = await scrape(pm.poller);
  const s = await scrape(pm.scheduler);
  const bases = new Set([p.base, s.base, w.base]);
  expect(bases.size).toBe(3);

  // The poller: what it asks GitLab; no job counters (it runs none).
  expect(
    hasSample(p.samples, "gitlab_runner_api_request_statuses_total", {
      endpoint: "request_job",
      status: "201",
    }),
  ).toBe(true);
  expect(hasSample(p.samples, "gitlab_runner_request_concurrency_hard_limit")).toBe(true);
  expect(hasSample(p.samples, "gitlab_runner_jobs_total")).toBe(false);
  expect(hasSample(p.samples, "gitlab_runner_concurrent")).toBe(false);
  // The scheduler: capacity and slots; no GitLab API counters (it makes no jobs/request).
  expect(s.samples.find((x) => x.name === "gitlab_runner_concurrent")?.value).toBe(3);
  expect(
    s.samples.find((x) => x.name === "gitlab_runner_limit" && x.labels.runner_name === "tiers")?.value,
  ).toBe(2);
  expect(hasSample(s.samples, "runmesh_worker_slots", { worker: "w-tiers", state: "free" })).toBe(true);
  expect(hasSample(s.samples, "gitlab_runner_api_request_statuses_total")).toBe(false);
  expect(hasSample(s.samples, "gitlab_runner_jobs_total")).toBe(false);
  // The worker: its jobs and its job-token calls; neither capacity nor jobs/request.
  expect(w.samples.find((x) => x.name === "gitlab_runner_jobs_total")?.value).toBe(1);
  expect(hasSample(w.samples, "gitlab_runner_concurrent")).toBe(false);
  expect(hasSample(w.samples, "gitlab_runner_api_request_statuses_total", { endpoint: "request_job" })).toBe(
    false,
  );
  expect(
    hasSample(w.samples, "gitlab_runner_api_request_statuses_total", {
      endpoint: "update_job",
      status: "200",
    }),
  ).toBe(true);

  for (const base of bases) {
    const r = await fetch(`${base}/readyz`);
    expect(r.status).toBe(200);
  }
  // A stopped scheduler is not ready; the others still are.
  await scheduler.stop();
  const sr = await fetch(`${s.base}/readyz`);
  expect(sr.status).toBe(503);
  expect(await sr.text()).toBe("not ready\nscheduler: not ready: scheduler stopped\n");
  expect((await fetch(`${w.base}/readyz`)).status).toBe(200);
  // A worker whose heartbeats stopped is not ready.
  await worker.stop();
  let wr = await fetch(`${w.base}/readyz`);
  for (let i = 0; i < 50 && wr.status === 200; i++) {
    await Bun.sleep(100);
    wr = await fetch(`${w.base}/readyz`);
  }
  expect(wr.status).toBe(503);
  expect(await wr.text()).toMatch(/^not ready\nworker: not ready: no heartbeat sent for \d+ ms\n$/);
  expect((await fetch(`${w.base}/healthz`)).status).toBe(200);
});

test("runmesh worker as its own process serves on the listen_address of the file it is given", async () => {
  const nats = await startNatsServer();
  cleanups.push(() => nats.stop());
  const dir = mkdtempSync(join(tmpdir(), "runmesh-worker-metrics-"));
  const config = join(dir, "config.toml");
  writeFileSync(config, `listen_address = "127.0.0.1:0"\nconcurrent = 2\n[mesh]\ndata_dir = "${dir}"\n`);
  const proc = spawnRunmesh(["worker", "--config", config, "--nats", nats.url, "--id", "w-alone"]);
  cleanups.push(async () => {
    proc.kill("SIGKILL");
    await proc.exited;
  });
  const { url } = JSON.parse(await proc.waitFor("metrics server listening")) as { url: string };
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  let ready = await fetch(`${url}/readyz`);
  for (let i = 0; i < 50 && ready.status !== 200; i++) {
    await Bun.sleep(100);
    ready = await fetch(`${url}/readyz`);
  }
  expect(await ready.text()).toBe("ready\nworker: ready\n");
  const samples = parsePromText(await (await fetch(`${url}/metrics`)).text());
  expect(hasSample(samples, "gitlab_runner_version_info", { name: "runmesh" })).toBe(true);
  expect(hasSample(samples, "gitlab_runner_concurrent")).toBe(false);
  expect(await (await fetch(`${url}/debug/jobs/list`)).text()).toBe("");
});
