// The executor seam, end to end: an executor that exists only in this test (tests/executors/
// transcript, its own folder) is registered in a worker's registry and runs a real job that GitLab
// (the coordinator) handed out: no change to the worker, the job model or the scheduler. The
// scheduler's warning for a runner entry no worker can serve is checked on the same mesh.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInprocBus } from "../../libs/bus/inproc-bus.ts";
import { type Config, parseConfig } from "../../libs/config/index.ts";
import { builtinExecutors } from "../../libs/executors/registry.ts";
import { runnerInfoFor } from "../../libs/executors/runner-clients.ts";
import { createLogger } from "../../libs/log/logger.ts";
import { startWorkerService } from "../../services/executor-worker/main.ts";
import type { ExecutorWorker } from "../../services/executor-worker/worker.ts";
import { startPollerService } from "../../services/poller/main.ts";
import type { Poller } from "../../services/poller/poller.ts";
import { startSchedulerService } from "../../services/scheduler/main.ts";
import type { Scheduler } from "../../services/scheduler/scheduler.ts";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { type Transcript, transcriptProvider } from "../executors/transcript/provider.ts";

const CUSTOM_TOKEN = "glrt-seam-custom-0123456789";
const DOCKER_TOKEN = "glrt-seam-docker-0123456789";
const root = mkdtempSync(join(tmpdir(), "runmesh-seam-"));
const transcript: Transcript = { acquired: [], released: [], prepared: [], images: [], stages: [] };
// The transcript stands in for "custom": the built-in custom executor is left out of this registry.
const registry = builtinExecutors()
  .select(["shell", "docker", "ssh"])
  .with(transcriptProvider(root, transcript));
const logs: string[] = [];
let coordinator: Coordinator;
let scheduler: Scheduler;
let worker: ExecutorWorker;
let poller: Poller;
let config: Config;

beforeAll(async () => {
  coordinator = await startCoordinator({ longPollMs: 1000, traceUpdateIntervalS: 1 });
  coordinator.registerRunner(CUSTOM_TOKEN);
  coordinator.registerRunner(DOCKER_TOKEN);
  const toml = [
    "concurrent = 2",
    "check_interval = 1",
    "[mesh]",
    'heartbeat_interval = "200ms"',
    'worker_lost_after = "1s"',
    'worker_executors = ["shell", "custom"]',
    "[[runners]]",
    'name = "transcribed"',
    `url = "${coordinator.url}"`,
    `token = "${CUSTOM_TOKEN}"`,
    'executor = "custom"',
    'shell = "sh"',
    "[runners.custom]",
    'run_exec = "/bin/true"',
    "[[runners]]",
    'name = "dockerized"',
    `url = "${coordinator.url}"`,
    `token = "${DOCKER_TOKEN}"`,
    'executor = "docker"',
  ].join("\n");
  ({ config } = parseConfig(toml, { source: "seam.toml", hostname: "seam-host" }));
  const bus = createInprocBus();
  const logger = (service: string) =>
    createLogger({ service, level: "info", destination: { write: (l: string) => logs.push(l) } });
  scheduler = await startSchedulerService({ config, bus, logger: logger("scheduler") });
  worker = await startWorkerService({
    mesh: config.mesh,
    bus,
    logger: logger("worker"),
    workerId: "seam-worker",
    executors: registry,
    traceUpdateIntervalMs: 200,
  });
  poller = await startPollerService({
    config,
    bus,
    logger: logger("poller"),
    systemId: "s_0123456789ab",
    pollerId: "p0",
  });
});

afterAll(async () => {
  await poller?.stopRequesting();
  await worker?.abortAll(5000);
  await scheduler?.stop();
  await worker?.stop();
  await coordinator?.stop();
});

describe("a test-only executor through the worker", () => {
  test("runs a real job: acquired, prepared in its own layout, each stage with its kind, released", async () => {
    const job = coordinator.enqueueJob(CUSTOM_TOKEN, {
      gitStrategy: "none",
      script: [
        'echo "ran in $CI_PROJECT_DIR"',
        "echo shell=$0",
        "echo CI_DISPOSABLE_ENVIRONMENT=$CI_DISPOSABLE_ENVIRONMENT",
      ],
      afterScript: ["echo after"],
      image: { name: "alpine:3.20", entrypoint: ["/bin/sh", "-c"], pull_policy: ["if-not-present"] },
      services: [
        {
          name: "postgres:16",
          alias: "db,pg",
          command: ["postgres", "-c", "fsync=off"],
          variables: [
            { key: "POSTGRES_PASSWORD", value: "pw", public: true, file: false, masked: false, raw: false },
          ],
          ports: [{ number: 5432, protocol: "tcp", name: "pg" }],
          executor_opts: { docker: { platform: "linux/amd64" } },
        },
      ],
    });
    const done = await coordinator.waitForFinal(job.id, 30_000);
    expect(done.status).toBe("success");
    expect(done.traceText).toContain("Using Transcript executor on instance-1-job-");
    expect(done.traceText).toContain("shell=sh");
    expect(done.traceText).toContain("after");
    // Not shared: the project dir is <builds>/<project path>, with no token or concurrency id.
    expect(transcript.prepared).toEqual([
      {
        buildsDir: join(root, "builds"),
        projectDir: join(root, "builds", "group", "project"),
        instance: transcript.acquired[0],
      },
    ]);
    expect(done.traceText).toContain("CI_DISPOSABLE_ENVIRONMENT=true");
    // The image and services reach the executor typed, every field as GitLab sent it.
    const [{ image, services }] = transcript.images as [Transcript["images"][number]];
    expect(image).toMatchObject({
      name: "alpine:3.20",
      entrypoint: ["/bin/sh", "-c"],
      pull_policy: ["if-not-present"],
      command: [],
      alias: "",
    });
    expect(services).toEqual([
      {
        name: "postgres:16",
        alias: "db,pg",
        entrypoint: [],
        command: ["postgres", "-c", "fsync=off"],
        pull_policy: [],
        variables: [
          { key: "POSTGRES_PASSWORD", value: "pw", public: true, file: false, masked: false, raw: false },
        ],
        ports: [{ number: 5432, protocol: "tcp", name: "pg" }],
        executor_opts: { docker: { platform: "linux/amd64" } },
      },
    ]);
    expect(done.traceText).toContain(`ran in ${transcript.prepared[0]!.projectDir}`);
    expect(transcript.acquired).toHaveLength(1);
    expect(transcript.released).toEqual(transcript.acquired);
    expect(transcript.stages.map((s) => `${s.stage}:${s.kind}:${s.shell}`)).toEqual([
      "prepare_script:user:sh",
      "get_sources:predefined:sh",
      "step_script:user:sh",
      "after_script:user:sh",
      "cleanup_file_variables:predefined:sh",
    ]);
  });

  test("its features reach GitLab from the worker that has it; a builtin executor's from anyone", () => {
    expect(runnerInfoFor({ executor: "custom" }, registry).features.image).toBe(true);
    expect(runnerInfoFor({ executor: "custom" }).features.image).toBe(false);
    expect(runnerInfoFor({ executor: "shell" }).features.shared).toBe(true);
    expect(runnerInfoFor({ executor: "docker" }).features.shared).toBe(false);
  });

  test("a runner entry whose executor no live worker offers is a warning naming the entry and the executor", async () => {
    const warned = () =>
      logs.filter(
        (l) =>
          l.includes('"level":"warn"') && l.includes('runner \\"dockerized\\"') && l.includes('\\"docker\\"'),
      );
    for (let i = 0; i < 100 && warned().length === 0; i++) await Bun.sleep(50);
    expect(warned()).toHaveLength(1);
    // The entry served by the test executor is never reported.
    expect(logs.some((l) => l.includes('runner \\"transcribed\\": no live worker'))).toBe(false);
    // A reload warns again about what still cannot be served.
    scheduler.reconfigure(config.concurrent, [
      { key: "dockerized", name: "dockerized", limit: 0, executor: "docker" },
    ]);
    for (let i = 0; i < 100 && warned().length < 2; i++) await Bun.sleep(50);
    expect(warned()).toHaveLength(2);
  });
});
