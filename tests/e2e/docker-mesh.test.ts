// Routing by executor on a real mesh: one worker offers only the shell executor, another only
// docker (on a private dockerd); a shell runner entry and a docker one each get a job from the
// coordinator, and each job runs on the worker that has its executor, with the docker job's
// image, service and sandbox gone from the engine afterwards.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInprocBus } from "../../libs/bus/inproc-bus.ts";
import { parseConfig } from "../../libs/config/index.ts";
import { createLogger } from "../../libs/log/logger.ts";
import { startWorkerService } from "../../services/executor-worker/main.ts";
import type { ExecutorWorker } from "../../services/executor-worker/worker.ts";
import { startPollerService } from "../../services/poller/main.ts";
import type { Poller } from "../../services/poller/poller.ts";
import { startSchedulerService } from "../../services/scheduler/main.ts";
import type { Scheduler } from "../../services/scheduler/scheduler.ts";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { BUSYBOX_IMAGE, DEBIAN_IMAGE, importBusybox, importDebian } from "../infra/docker-images.ts";
import { type Dockerd, engineAvailable, startDockerd } from "../infra/dockerd.ts";

const SHELL_TOKEN = "glrt-mesh-shell-0123456789";
const DOCKER_TOKEN = "glrt-mesh-docker-0123456789";
const root = mkdtempSync(join(tmpdir(), "runmesh-docker-mesh-"));
const logs: Record<string, string[]> = { "shell-worker": [], "docker-worker": [], other: [] };
let d: Dockerd;
let coordinator: Coordinator;
let scheduler: Scheduler;
const workers: ExecutorWorker[] = [];
let poller: Poller;

beforeAll(async () => {
  if (!engineAvailable) return;
  d = await startDockerd();
  await importBusybox(d);
  await importDebian(d);
  coordinator = await startCoordinator({ longPollMs: 1000, traceUpdateIntervalS: 1 });
  coordinator.registerRunner(SHELL_TOKEN);
  coordinator.registerRunner(DOCKER_TOKEN);
  const toml = [
    "concurrent = 4",
    "check_interval = 1",
    "[mesh]",
    'heartbeat_interval = "200ms"',
    'worker_lost_after = "2s"',
    `data_dir = ${JSON.stringify(join(root, "data"))}`,
    "[[runners]]",
    'name = "on-shell"',
    `url = "${coordinator.url}"`,
    `token = "${SHELL_TOKEN}"`,
    'executor = "shell"',
    `builds_dir = ${JSON.stringify(join(root, "builds"))}`,
    "[[runners]]",
    'name = "on-docker"',
    `url = "${coordinator.url}"`,
    `token = "${DOCKER_TOKEN}"`,
    'executor = "docker"',
    "[runners.docker]",
    `host = "${d.host}"`,
    `image = "${BUSYBOX_IMAGE}"`,
    `helper_image = "${DEBIAN_IMAGE}"`,
    'pull_policy = "if-not-present"',
  ].join("\n");
  const { config } = parseConfig(toml, { source: "mesh.toml", hostname: "mesh-host" });
  const bus = createInprocBus();
  const logger = (service: string, into: string[]) =>
    createLogger({ service, level: "info", destination: { write: (l: string) => into.push(l) } });
  scheduler = await startSchedulerService({ config, bus, logger: logger("scheduler", logs.other!) });
  for (const [id, executors] of [
    ["shell-worker", ["shell"]],
    ["docker-worker", ["docker"]],
  ] as const) {
    workers.push(
      await startWorkerService({
        mesh: { ...config.mesh, worker_executors: [...executors], data_dir: join(root, id) },
        bus,
        logger: logger("worker", logs[id]!),
        workerId: id,
        traceUpdateIntervalMs: 200,
      }),
    );
  }
  poller = await startPollerService({
    config,
    bus,
    logger: logger("poller", logs.other!),
    systemId: "s_0123456789ab",
    pollerId: "p0",
  });
}, 180_000);

afterAll(async () => {
  await poller?.stopRequesting();
  for (const w of workers) await w.abortAll(5000);
  await scheduler?.stop();
  for (const w of workers) await w.stop();
  await coordinator?.stop();
  await d?.stop();
  rmSync(root, { recursive: true, force: true });
});

const ranOn = (worker: string, jobId: number) =>
  logs[worker]!.some((l) => l.includes('"msg":"job finished"') && l.includes(`"job":${jobId}`));

describe("a mesh with a shell worker and a docker worker", () => {
  test.skipIf(!engineAvailable)(
    "each job runs on the worker that has its executor [needs root and docker.io: scripts/setup.sh]",
    async () => {
      const shellJob = coordinator.enqueueJob(SHELL_TOKEN, {
        gitStrategy: "none",
        script: ["echo on the host"],
      });
      const dockerJob = coordinator.enqueueJob(DOCKER_TOKEN, {
        gitStrategy: "none",
        image: { name: DEBIAN_IMAGE },
        services: [{ name: BUSYBOX_IMAGE, alias: "svc", command: ["sleep", "600"] }],
        script: ["cat /etc/debian_version", "grep svc /etc/hosts"],
      });
      const [shellDone, dockerDone] = await Promise.all([
        coordinator.waitForFinal(shellJob.id, 60_000),
        coordinator.waitForFinal(dockerJob.id, 60_000),
      ]);
      expect(shellDone.traceText).toContain("Using Shell (bash) executor...");
      expect(shellDone.status).toBe("success");
      expect(dockerDone.traceText).toContain(`Using Docker executor with image ${DEBIAN_IMAGE} ...`);
      expect(dockerDone.traceText).toMatch(/ 12\.\d+\n/);
      expect(dockerDone.traceText).toContain("127.0.0.1\tsvc");
      expect(dockerDone.status).toBe("success");
      // Each entry's jobs/request told GitLab what its executor can do.
      expect([dockerDone.features.image, dockerDone.features.services]).toEqual([true, true]);
      expect([shellDone.features.image, shellDone.features.services, shellDone.features.shared]).toEqual([
        false,
        false,
        true,
      ]);
      for (
        let i = 0;
        i < 50 && !(ranOn("shell-worker", shellJob.id) && ranOn("docker-worker", dockerJob.id));
        i++
      )
        await Bun.sleep(100);
      expect([ranOn("shell-worker", shellJob.id), ranOn("docker-worker", shellJob.id)]).toEqual([
        true,
        false,
      ]);
      expect([ranOn("docker-worker", dockerJob.id), ranOn("shell-worker", dockerJob.id)]).toEqual([
        true,
        false,
      ]);
      // The job's sandbox, service and volumes are gone.
      expect(d.cli(["ps", "-aq", "--filter", "label=runmesh.worker=docker-worker"]).trim()).toBe("");
      expect(d.cli(["volume", "ls", "-q", "--filter", "label=runmesh.worker=docker-worker"]).trim()).toBe("");
    },
  );

  test.skipIf(!engineAvailable)(
    "a worker restarted after a crash removes its own leftovers on start, before any job",
    async () => {
      const id = "crashed-worker";
      const dataDir = join(root, id);
      mkdirSync(dataDir, { recursive: true });
      // What a crashed run leaves: the engine it used, and a container and volume of its job.
      writeFileSync(join(dataDir, "docker-hosts.json"), JSON.stringify([{ host: d.host }]));
      const labels = [
        "--label",
        "runmesh.managed=true",
        "--label",
        `runmesh.worker=${id}`,
        "--label",
        "runmesh.job.id=9",
      ];
      d.cli(["run", "-d", "--network", "none", ...labels, BUSYBOX_IMAGE, "sleep", "600"]);
      d.cli(["volume", "create", ...labels]);
      const lines: string[] = [];
      const worker = await startWorkerService({
        mesh: {
          ...parseConfig("[mesh]\n", { source: "m.toml", hostname: "h" }).config.mesh,
          data_dir: dataDir,
          worker_executors: ["docker"],
        },
        bus: createInprocBus(),
        logger: createLogger({
          service: "worker",
          level: "info",
          destination: { write: (l: string) => lines.push(l) },
        }),
        workerId: id,
      });
      await worker.stop();
      expect(d.cli(["ps", "-aq", "--filter", `label=runmesh.worker=${id}`]).trim()).toBe("");
      expect(d.cli(["volume", "ls", "-q", "--filter", `label=runmesh.worker=${id}`]).trim()).toBe("");
      expect(lines.some((l) => l.includes("removed leftovers of a previous run"))).toBe(true);
    },
  );
});
