// Starts the in-process tiers (scheduler, one worker, the poller and, where a test needs it, the
// autoscaler) on one in-process bus from a raw config.toml string, the way `runmesh run` reads
// one. For executor tests whose runner entries are more than mesh-harness's ConfigSpec can say
// ([runners.ssh], [runners.custom], [runners.autoscaler]…): one place for the wiring, the log
// capture and the stop order, instead of each test file doing it by hand.
import { chmodSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInprocBus } from "../../libs/bus/inproc-bus.ts";
import { type Config, parseConfig } from "../../libs/config/index.ts";
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
import type { Sshd } from "../infra/sshd.ts";

const ROOT = resolve(import.meta.dir, "../..");

/** The global keys and [mesh] table these tests share: fast heartbeats, data_dir under the test's root. */
export function meshHeader(o: { concurrent: number; dataDir: string; workerLostAfter?: string }): string[] {
  return [
    `concurrent = ${o.concurrent}`,
    "check_interval = 1",
    "[mesh]",
    'heartbeat_interval = "200ms"',
    `worker_lost_after = "${o.workerLostAfter ?? "2s"}"`,
    `data_dir = ${JSON.stringify(o.dataDir)}`,
  ];
}

/** A [[runners]] entry's first lines: name, url, token and executor. */
export function runnerHead(o: { name: string; url: string; token: string; executor: string }): string[] {
  return [
    "[[runners]]",
    `name = ${JSON.stringify(o.name)}`,
    `url = ${JSON.stringify(o.url)}`,
    `token = ${JSON.stringify(o.token)}`,
    `executor = ${JSON.stringify(o.executor)}`,
  ];
}

/** [runners.ssh] for a test sshd: password login, its host key pinned in known_hosts_file. */
export function sshTable(sshd: Sshd): string[] {
  return [
    "[runners.ssh]",
    `host = "${sshd.host}"`,
    `port = "${sshd.port}"`,
    `user = "${sshd.user}"`,
    `password = "${sshd.password}"`,
    `known_hosts_file = ${JSON.stringify(sshd.knownHostsFile)}`,
  ];
}

/** [runners.custom] naming the driver's scripts (prepare_exec and cleanup_exec where given). */
export function customTable(o: {
  config: string;
  prepare?: string;
  run: string;
  cleanup?: string;
}): string[] {
  return [
    "[runners.custom]",
    `config_exec = ${JSON.stringify(o.config)}`,
    ...(o.prepare ? [`prepare_exec = ${JSON.stringify(o.prepare)}`] : []),
    `run_exec = ${JSON.stringify(o.run)}`,
    ...(o.cleanup ? [`cleanup_exec = ${JSON.stringify(o.cleanup)}`] : []),
  ];
}

/** Writes a custom executor driver's script (bash, executable) into dir; returns its path. */
export function driverScript(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/bash\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** [runners.autoscaler] on the built-in docker fleeting plugin: containers running sshd on a
 *  private dockerd as instances, one job each, fast update intervals, removed on shutdown. */
export function dockerPluginAutoscaler(o: {
  dockerHost: string;
  image: string;
  group: string;
  maxInstances: number;
  /** Omitted: an instance serves jobs until idle_time passes. */
  maxUseCount?: number;
  /** Below Linux's ephemeral range (32768-60999): an outgoing connection's local port taken
   * between the plugin's free-port check and sshd's bind kills the instance (CI saw it). */
  portRange: string;
  idleTime: string;
  binds?: string[];
}): string[] {
  return [
    "[runners.autoscaler]",
    'plugin = "docker"',
    "capacity_per_instance = 1",
    ...(o.maxUseCount !== undefined ? [`max_use_count = ${o.maxUseCount}`] : []),
    `max_instances = ${o.maxInstances}`,
    'update_interval = "200ms"',
    'update_interval_when_expecting = "100ms"',
    'instance_acquire_timeout = "60s"',
    "delete_instances_on_shutdown = true",
    "[runners.autoscaler.plugin_config]",
    `docker_host = ${JSON.stringify(o.dockerHost)}`,
    `image = ${JSON.stringify(o.image)}`,
    `name = ${JSON.stringify(o.group)}`,
    `max_size = ${o.maxInstances}`,
    `port_range = ${JSON.stringify(o.portRange)}`,
    ...(o.binds ? [`binds = ${JSON.stringify(o.binds)}`] : []),
    "[[runners.autoscaler.policy]]",
    "idle_count = 0",
    `idle_time = ${JSON.stringify(o.idleTime)}`,
  ];
}

export interface TomlMesh {
  config: Config;
  /** Every tier's log lines (info and up), as JSON text. */
  logs: string[];
  scheduler: Scheduler;
  worker: ExecutorWorker;
  poller: Poller;
  autoscalers: Autoscaler[];
  /** Poller stops asking, running jobs abort, then scheduler, worker and autoscalers stop. */
  stop(): Promise<void>;
}

export async function startTomlMesh(o: {
  toml: string;
  /** The config's path as the tiers are told it (the autoscaler keeps state beside it). */
  configPath: string;
  /** The worker's worker_executors. */
  executors: Config["mesh"]["worker_executors"];
  /** The worker's own data_dir. */
  workerDataDir: string;
  workerId: string;
  traceUpdateIntervalMs?: number;
  /** Start the autoscaler tier, its groups the built-in docker fleeting plugin run from source
   *  through the plugin host, as GitLab Runner launches fleeting-plugin-docker. */
  autoscaler?: boolean;
}): Promise<TomlMesh> {
  const { config } = parseConfig(o.toml, { source: o.configPath, hostname: "mesh-host" });
  const logs: string[] = [];
  const bus = createInprocBus();
  const logger = (service: string) =>
    createLogger({ service, level: "info", destination: { write: (l: string) => logs.push(l) } });
  const scheduler = await startSchedulerService({ config, bus, logger: logger("scheduler") });
  const autoscalers = o.autoscaler
    ? await startAutoscalerService({
        config,
        configPath: o.configPath,
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
      })
    : [];
  const worker = await startWorkerService({
    mesh: { ...config.mesh, worker_executors: o.executors, data_dir: o.workerDataDir },
    bus,
    logger: logger("worker"),
    workerId: o.workerId,
    traceUpdateIntervalMs: o.traceUpdateIntervalMs ?? 200,
  });
  const poller = await startPollerService({
    config,
    bus,
    logger: logger("poller"),
    systemId: "s_0123456789ab",
    pollerId: "p0",
  });
  return {
    config,
    logs,
    scheduler,
    worker,
    poller,
    autoscalers,
    async stop() {
      await poller.stopRequesting();
      await worker.abortAll(5000);
      await scheduler.stop();
      await worker.stop();
      for (const a of autoscalers) await a.stop().catch(() => {});
    },
  };
}
