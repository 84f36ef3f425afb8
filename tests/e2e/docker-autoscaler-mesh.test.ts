// The docker-autoscaler executor end to end (issue 15): a runner entry with executor =
// "docker-autoscaler", [runners.docker] without any host, and [runners.autoscaler] plugin
// "docker" (the built-in fleeting plugin as a go-plugin process). Its instances are containers
// running sshd on a private dockerd; an instance cannot run dockerd of its own here (that needs
// --privileged), so the private dockerd's socket is mounted into each instance at
// /var/run/docker.sock. The worker reaches that engine only through an SSH tunnel to the
// instance it acquired (DOCKER_HOST unset, no host in [runners.docker]); the job runs in a
// container there, and the instance is released and retired (max_use_count = 1).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInprocBus } from "../../libs/bus/inproc-bus.ts";
import { parseConfig } from "../../libs/config/index.ts";
import { PluginProcessGroup } from "../../libs/fleeting/plugin-process-group.ts";
import { createLogger } from "../../libs/log/logger.ts";
import type { Autoscaler } from "../../services/autoscaler/autoscaler.ts";
import { startAutoscalerService } from "../../services/autoscaler/main.ts";
import { startWorkerService } from "../../services/executor-worker/main.ts";
import type { ExecutorWorker } from "../../services/executor-worker/worker.ts";
import { startPollerService } from "../../services/poller/main.ts";
import type { Poller } from "../../services/poller/poller.ts";
import { startSchedulerService } from "../../services/scheduler/main.ts";
import type { Scheduler } from "../../services/scheduler/scheduler.ts";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { BUSYBOX_IMAGE, DEBIAN_IMAGE, importDebian } from "../infra/docker-images.ts";
import { type Dockerd, engineAvailable, startDockerd } from "../infra/dockerd.ts";
import { buildSshdImage, SSHD_IMAGE, sshdImageMissing } from "../infra/sshd-image.ts";

const ROOT = resolve(import.meta.dir, "../..");
const TOKEN = "glrt-docker-autoscaler-mesh-0123456789";
const GROUP = "docker-autoscaler-e2e";
const missing = !engineAvailable ? "needs root and dockerd" : sshdImageMissing();
const root = mkdtempSync(join(tmpdir(), "runmesh-das-mesh-"));
const logs: string[] = [];
let d: Dockerd;
let coordinator: Coordinator;
let autoscalers: Autoscaler[] = [];
let scheduler: Scheduler;
let worker: ExecutorWorker;
let poller: Poller;

const groupContainers = () =>
  d
    .cli(["ps", "-a", "-q", "--filter", `label=runmesh.fleeting.group=${GROUP}`])
    .split("\n")
    .filter((l) => l.trim() !== "");

beforeAll(async () => {
  if (missing) return;
  delete process.env.DOCKER_HOST;
  d = await startDockerd();
  await buildSshdImage(d);
  await importDebian(d);
  coordinator = await startCoordinator({ longPollMs: 1000, traceUpdateIntervalS: 1 });
  coordinator.registerRunner(TOKEN);
  const toml = [
    "concurrent = 2",
    "check_interval = 1",
    "[mesh]",
    'heartbeat_interval = "200ms"',
    'worker_lost_after = "4s"',
    `data_dir = ${JSON.stringify(join(root, "data"))}`,
    "[[runners]]",
    'name = "on-docker-instances"',
    `url = "${coordinator.url}"`,
    `token = "${TOKEN}"`,
    'executor = "docker-autoscaler"',
    "[runners.docker]",
    `image = "${BUSYBOX_IMAGE}"`,
    `helper_image = "${DEBIAN_IMAGE}"`,
    'pull_policy = "if-not-present"',
    "[runners.autoscaler]",
    'plugin = "docker"',
    "capacity_per_instance = 1",
    "max_use_count = 1",
    "max_instances = 1",
    'update_interval = "200ms"',
    'update_interval_when_expecting = "100ms"',
    'instance_acquire_timeout = "60s"',
    "delete_instances_on_shutdown = true",
    "[runners.autoscaler.plugin_config]",
    `docker_host = ${JSON.stringify(d.host)}`,
    `image = "${SSHD_IMAGE}"`,
    `name = "${GROUP}"`,
    "max_size = 1",
    'port_range = "42500-42599"',
    `binds = [${JSON.stringify(`${d.socket}:/var/run/docker.sock`)}]`,
    "[[runners.autoscaler.policy]]",
    "idle_count = 0",
    'idle_time = "1s"',
  ].join("\n");
  const configPath = join(root, "config.toml");
  const { config } = parseConfig(toml, { source: configPath, hostname: "mesh-host" });
  const bus = createInprocBus();
  const logger = (service: string) =>
    createLogger({ service, level: "info", destination: { write: (l: string) => logs.push(l) } });
  scheduler = await startSchedulerService({ config, bus, logger: logger("scheduler") });
  autoscalers = await startAutoscalerService({
    config,
    configPath,
    bus,
    logger: logger("autoscaler"),
    autoscalerId: "a0",
    groupFor: (r) =>
      new PluginProcessGroup({
        command: [process.execPath, join(ROOT, "services/fleeting-plugin-docker/main.ts")],
        name: "docker",
        runnerName: r.name ?? r.runnerKey,
        logger: logger("autoscaler"),
      }),
  });
  worker = await startWorkerService({
    mesh: { ...config.mesh, worker_executors: ["docker-autoscaler"], data_dir: join(root, "worker") },
    bus,
    logger: logger("worker"),
    workerId: "das-worker",
    traceUpdateIntervalMs: 200,
  });
  poller = await startPollerService({
    config,
    bus,
    logger: logger("poller"),
    systemId: "s_0123456789ab",
    pollerId: "p0",
  });
}, 240_000);

afterAll(async () => {
  await poller?.stopRequesting();
  await worker?.abortAll(5000);
  await scheduler?.stop();
  await worker?.stop();
  for (const a of autoscalers) await a.stop().catch(() => {});
  await coordinator?.stop();
  await d?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe.skipIf(missing !== undefined)(
  `docker-autoscaler executor on docker instances (${missing ?? "ok"})`,
  () => {
    test("the job runs in a container of the acquired instance's engine, reached over SSH; the instance is released and retired", async () => {
      expect(groupContainers()).toEqual([]);
      const job = coordinator.enqueueJob(TOKEN, {
        gitStrategy: "none",
        script: [
          "echo in-container=$(hostname)",
          "test -f /etc/runmesh-ssh/authorized_keys || echo not-the-instance",
        ],
      });
      const done = await coordinator.waitForFinal(job.id, 120_000);
      if (process.env.SHOW_TRACE) console.log(done.traceText);
      expect({ status: done.status, trace: done.traceText }).toMatchObject({ status: "success" });
      const dialled = /Dialing instance (\S+)\.\.\./.exec(done.traceText)?.[1];
      expect(dialled).toMatch(new RegExp(`^runmesh-fleeting-${GROUP}-`));
      expect(done.traceText).toContain("Preparing instance...");
      expect(done.traceText).toContain(`Instance ${dialled} connected`);
      expect(done.traceText).toContain(`Using Docker executor with image ${BUSYBOX_IMAGE}`);
      // The script ran in a job container (not on the instance itself, which has sshd's keys).
      expect(done.traceText).toContain("not-the-instance");
      const jobContainer = /O in-container=(\S+)\n/.exec(done.traceText)?.[1] ?? "";
      expect(jobContainer).toMatch(/^[0-9a-f]{12}$/);
      // The job's containers are gone from the engine (the docker executor's cleanup, through the tunnel).
      const left = d.cli(["ps", "-a", "-q", "--filter", "label=runmesh.worker=das-worker"]).trim();
      expect(left).toBe("");
      const deadline = Date.now() + 60_000;
      while (groupContainers().length > 0 && Date.now() < deadline) await Bun.sleep(200);
      expect(groupContainers()).toEqual([]);
      expect(
        logs.filter((l) => l.includes('"msg":"released the instance"') && l.includes('"released":true'))
          .length,
      ).toBe(1);
    }, 240_000);
  },
);
