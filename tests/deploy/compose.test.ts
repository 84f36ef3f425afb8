// compose.yaml with Debian's docker-compose (v1) on a private dockerd (issue 13): the images built
// offline by deploy/image/build-images.ts (debootstrap base, the compiled per-tier binaries,
// non-root, a HEALTHCHECK; nats-server from Debian's package), the stack brought up with the test
// override (host network, 127.0.0.1, a port per scaled worker), a job run through the strict test
// coordinator, workers scaled to 3 and three concurrent jobs each proven (by the container id in
// its cgroup) to have run in a different worker container, then everything torn down.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImages } from "../../deploy/image/build-images.ts";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { BUN } from "../e2e/processes.ts";
import { type Dockerd, engineAvailable, startDockerd } from "../infra/dockerd.ts";
import { freePort } from "../infra/nats-server.ts";

const ROOT = join(import.meta.dir, "..", "..");
const COMPOSE = Bun.which("docker-compose");
const TOKEN = "glrt-compose-runner-0123456789";
const TIER_BINARIES = ["runmesh-poller", "runmesh-scheduler", "runmesh-worker"];
const IMAGE_UID = 10001;
const PROJECT = `rmcompose${process.pid}`;

let dockerd: Dockerd | undefined;
let coordinator: Coordinator | undefined;
let env: Record<string, string> = {};

function compose(args: string[]): string {
  const r = spawnSync(COMPOSE!, ["-p", PROJECT, "-f", "compose.yaml", "-f", "compose.test.yaml", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`docker-compose ${args.join(" ")}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** dist/'s tier binaries are newer than every source they are built from (as make decides). */
function binariesFresh(): boolean {
  let newest = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of ["libs", "services"]) walk(join(ROOT, d));
  for (const f of ["package-lock.json", "scripts/build.ts", "scripts/build-flags.ts"])
    newest = Math.max(newest, statSync(join(ROOT, f)).mtimeMs);
  return TIER_BINARIES.every((b) => {
    const p = join(ROOT, "dist", b);
    return existsSync(p) && statSync(p).mtimeMs > newest;
  });
}

const containers = (service: string) => compose(["ps", "-q", service]).split("\n").filter(Boolean);

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline)
      throw new Error(`${what} not within ${timeoutMs} ms; logs:\n${compose(["logs", "--tail", "20"])}`);
    await Bun.sleep(250);
  }
}

/** The job's script prints the id of the container it runs in (cgroup v1 and v2 paths carry it). */
const whereScript = [
  "id -u",
  "grep -o -m1 '[0-9a-f]\\{64\\}' /proc/self/cgroup /proc/self/mountinfo | head -1 | sed 's/.*://; s/^/container=/'",
];
/** A failed job's trace is the error: it says what went wrong inside the container. */
function expectSuccess(j: { status: string; traceText: string }): void {
  if (j.status !== "success") throw new Error(`job ${j.status}; trace:\n${j.traceText}`);
}
const containerOf = (trace: string) => /container=([0-9a-f]{64})/.exec(trace)?.[1];

describe.skipIf(!engineAvailable || !COMPOSE)(
  "compose.yaml on a private dockerd (skipped without root, dockerd or docker-compose: scripts/setup.sh)",
  () => {
    beforeAll(async () => {
      if (!binariesFresh()) {
        const built = spawnSync(BUN, [join(ROOT, "scripts", "build.ts"), ...TIER_BINARIES], {
          cwd: ROOT,
          encoding: "utf8",
        });
        if (built.status !== 0) throw new Error(`scripts/build.ts: ${built.stderr}`);
      }
      dockerd = await startDockerd();
      await buildImages({ docker: (args) => dockerd!.cli(args), binaries: TIER_BINARIES });
      coordinator = await startCoordinator({ longPollMs: 2000 });
      coordinator.registerRunner(TOKEN);
      const config = mkdtempSync(join(tmpdir(), "runmesh-compose-config-"));
      writeFileSync(
        join(config, "config.toml"),
        [
          "concurrent = 3",
          "check_interval = 1",
          "shutdown_timeout = 5",
          "[[runners]]",
          'name = "compose"',
          `url = ${JSON.stringify(coordinator.url)}`,
          `token = ${JSON.stringify(TOKEN)}`,
          'executor = "shell"',
        ].join("\n"),
      );
      writeFileSync(
        join(config, "mesh.toml"),
        '[mesh]\nworker_slots = 1\nworker_executors = ["shell"]\nheartbeat_interval = "500ms"\n',
      );
      // The image runs as uid 10001: it reads the config and writes .runner_system_id beside it.
      for (const p of [config, join(config, "config.toml"), join(config, "mesh.toml")])
        chownSync(p, IMAGE_UID, IMAGE_UID);
      chmodSync(config, 0o700);
      const [nats, scheduler, poller, worker] = await Promise.all([
        freePort(),
        freePort(),
        freePort(),
        freePort(),
      ]);
      env = {
        DOCKER_HOST: dockerd.host,
        COMPOSE_DOCKER_CLI_BUILD: "0",
        RUNMESH_CONFIG_DIR: config,
        RUNMESH_TEST_NATS_PORT: String(nats),
        RUNMESH_TEST_SCHEDULER_PORT: String(scheduler),
        RUNMESH_TEST_POLLER_PORT: String(poller),
        RUNMESH_TEST_WORKER_PORTS: `${worker}-${worker + 20}`,
      };
    }, 240_000);

    afterAll(async () => {
      if (dockerd) {
        try {
          compose(["down", "-v", "-t", "5"]);
        } catch (e) {
          console.error(String(e));
        }
        await dockerd.stop();
      }
      await coordinator?.stop();
    }, 60_000);

    test("up: a job runs, as the image's non-root user; scaled to 3, each worker runs one of three jobs; the tiers turn healthy", async () => {
      compose(["up", "-d"]);
      const first = coordinator!.enqueueJob(TOKEN, { script: whereScript, gitStrategy: "none" });
      const done = await coordinator!.waitForFinal(first.id, 60_000);
      expectSuccess(done);
      expect(done.traceText).toContain(`${IMAGE_UID}\n`);
      const [onlyWorker] = containers("worker");
      expect(containerOf(done.traceText)).toBe(onlyWorker!);

      // One at a time, so each new worker finds the previous one's port taken.
      for (const n of [2, 3]) {
        compose(["up", "-d", "--no-recreate", "--scale", `worker=${n}`]);
        await until(`${n} workers started`, () => {
          const started = compose(["logs", "worker"])
            .split("\n")
            .filter((l) => l.includes("worker started"));
          return started.length >= n ? true : undefined;
        });
      }
      const workers = containers("worker");
      expect(workers).toHaveLength(3);
      await Bun.sleep(1500); // every worker's heartbeat has reached the scheduler

      // Three jobs that overlap; each worker has one slot, so each runs in a different container.
      const jobs = [1, 2, 3].map(() =>
        coordinator!.enqueueJob(TOKEN, { script: [...whereScript, "sleep 4"], gitStrategy: "none" }),
      );
      const finals = await Promise.all(jobs.map((j) => coordinator!.waitForFinal(j.id, 90_000)));
      for (const f of finals) expectSuccess(f);
      const ranIn = finals.map((f) => containerOf(f.traceText));
      expect(new Set(ranIn).size).toBe(3);
      expect([...ranIn].sort()).toEqual([...workers].sort());

      // The image's HEALTHCHECK (GET /healthz on each tier's own port) turns every tier healthy.
      for (const id of [
        ...containers("scheduler"),
        ...containers("poller"),
        ...workers,
        ...containers("nats"),
      ])
        await until(
          `container ${id.slice(0, 12)} healthy`,
          () =>
            dockerd!.cli(["inspect", "--format", "{{.State.Health.Status}}", id]).trim() === "healthy"
              ? true
              : undefined,
          45_000,
        );
    }, 240_000);
  },
);
