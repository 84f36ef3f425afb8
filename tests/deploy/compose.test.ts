// compose.yaml with Debian's docker-compose (v1) on a private dockerd (issue 13): the images built
// offline by deploy/image/build-images.ts (debootstrap base, the compiled per-tier binaries,
// non-root, a HEALTHCHECK; nats-server from Debian's package), the stack brought up with the test
// override (host network, 127.0.0.1, a port per scaled worker), a job run through the strict test
// coordinator, workers scaled to 3 and three concurrent jobs each proven (by the container id in
// its cgroup) to have run in a different worker container, then everything torn down. NATS runs
// with the identities and TLS deploy/compose/bootstrap.ts writes: nats-server's /connz (on the
// test's loopback monitoring port) shows each tier (the autoscaler too, idle: its profile is on)
// and each scaled worker connected as its own user, a connection without credentials and a
// worker subscribing to another's dispatches are refused, no container's `docker inspect` or log
// holds a password, a replica beyond the pool exits saying so, and a removed replica's identity
// goes to the next.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { bootstrapCompose } from "../../deploy/compose/bootstrap.ts";
import { buildImages } from "../../deploy/image/build-images.ts";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { BUN } from "../e2e/processes.ts";
import { type Dockerd, engineAvailable, startDockerd } from "../infra/dockerd.ts";
import { freePort } from "../infra/nats-server.ts";

const ROOT = join(import.meta.dir, "..", "..");
const COMPOSE = Bun.which("docker-compose");
const TOKEN = "glrt-compose-runner-0123456789";
const TIER_BINARIES = [
  "runmesh-poller",
  "runmesh-scheduler",
  "runmesh-worker",
  "runmesh-cache-signer",
  "runmesh-autoscaler",
];
/** Every tier's service in compose.yaml but the workers. */
const TIERS = ["poller", "scheduler", "cache-signer", "autoscaler"];
/** The workers' identity pool: three, so a fourth replica finds none free. */
const POOL = 3;
const IMAGE_UID = 10001;
const PROJECT = `rmcompose${process.pid}`;

let dockerd: Dockerd | undefined;
let coordinator: Coordinator | undefined;
let env: Record<string, string> = {};
let passwords: Record<string, string> = {};

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

async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
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

/** A container's stdout and stderr (the entrypoint writes its identity claim to stderr). */
function containerLog(id: string): string {
  const r = spawnSync("docker", ["-H", dockerd!.host, "logs", id], { encoding: "utf8", maxBuffer: 16 << 20 });
  return `${r.stdout}${r.stderr}`;
}
const claimedIdentity = (id: string) => /NATS identity (worker-\d+)/.exec(containerLog(id))?.[1];

/** Who is connected to the compose NATS, by the user each connection authenticated as. */
async function connectedUsers(): Promise<string[]> {
  const r = await fetch(`http://127.0.0.1:${env.RUNMESH_TEST_NATS_MONITOR_PORT}/connz?auth=true&limit=1000`);
  const body = (await r.json()) as { connections: { authorized_user?: string }[] };
  return body.connections.map((c) => c.authorized_user ?? "(none)");
}

const natsConnect = (creds: { user?: string; pass?: string }) =>
  connect({
    servers: [`tls://127.0.0.1:${env.RUNMESH_TEST_NATS_PORT}`],
    tls: { caFile: join(env.RUNMESH_SECRETS_DIR!, "ca.pem") },
    reconnect: false,
    timeout: 5000,
    ...creds,
  });

/** What the server answers when `nc` subscribes to `subject`: "ok" or the error it reported. */
async function trySubscribe(nc: NatsConnection, subject: string): Promise<string> {
  const sub = nc.subscribe(subject);
  const closed = sub.closed.then((e) => (e ? String(e.message ?? e) : "closed"));
  const verdict = await Promise.race([closed, nc.flush().then(() => Bun.sleep(300).then(() => "ok"))]);
  sub.unsubscribe();
  return verdict;
}

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
      const secrets = mkdtempSync(join(tmpdir(), "runmesh-compose-secrets-"));
      ({ passwords } = await bootstrapCompose({ secretsDir: secrets, workers: POOL }));
      const [nats, monitor, scheduler, poller, signer, autoscaler, worker] = await Promise.all([
        freePort(),
        freePort(),
        freePort(),
        freePort(),
        freePort(),
        freePort(),
        freePort(),
      ]);
      env = {
        DOCKER_HOST: dockerd.host,
        COMPOSE_DOCKER_CLI_BUILD: "0",
        RUNMESH_CONFIG_DIR: config,
        RUNMESH_SECRETS_DIR: secrets,
        RUNMESH_TEST_NATS_PORT: String(nats),
        RUNMESH_TEST_NATS_MONITOR_PORT: String(monitor),
        RUNMESH_TEST_SCHEDULER_PORT: String(scheduler),
        RUNMESH_TEST_POLLER_PORT: String(poller),
        RUNMESH_TEST_SIGNER_PORT: String(signer),
        RUNMESH_TEST_AUTOSCALER_PORT: String(autoscaler),
        // The autoscaler too (idle: config.toml has no [runners.autoscaler]), for its identity.
        COMPOSE_PROFILES: "autoscaler",
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
      if (env.RUNMESH_SECRETS_DIR) rmSync(env.RUNMESH_SECRETS_DIR, { recursive: true, force: true });
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

      // Each replica claimed its own identity from the pool and is connected as that user; every
      // tier is connected as its own user, and no connection is anonymous.
      const claimed = workers.map((w) => claimedIdentity(w) ?? `(none: ${w.slice(0, 12)})`);
      expect(new Set(claimed).size).toBe(3);
      for (const c of claimed) expect(c).toMatch(/^worker-[1-3]$/);
      const users = await until("every tier connected to NATS", async () => {
        const u = await connectedUsers();
        return [...TIERS, ...claimed].every((x) => u.includes(x)) ? u : undefined;
      });
      expect([...new Set(users)].sort()).toEqual([...TIERS, ...claimed].sort());

      // The running NATS refuses a connection without credentials, and a worker's identity may not
      // subscribe to another worker's dispatches (it may to its own).
      const anonymous = await natsConnect({}).then(
        async (nc) => {
          await nc.close();
          return "connected";
        },
        (e: Error) => e.message,
      );
      expect(anonymous).toMatch(/authorization/i);
      const asWorker1 = await natsConnect({ user: "worker-1", pass: passwords["worker-1"] });
      try {
        expect(await trySubscribe(asWorker1, "runmesh.worker.worker-1.dispatch")).toBe("ok");
        expect(await trySubscribe(asWorker1, "runmesh.worker.worker-2.dispatch")).toMatch(
          /permissions violation/i,
        );
      } finally {
        await asWorker1.close();
      }

      // Secrets stay files: no container's configuration (`docker inspect`) holds a password, and a
      // tier's container mounts its own password only.
      for (const id of [...workers, ...TIERS.flatMap(containers)]) {
        const inspected = dockerd!.cli(["inspect", id]);
        for (const [user, password] of Object.entries(passwords))
          expect({ id, user, leaked: inspected.includes(password) }).toEqual({ id, user, leaked: false });
      }
      // Nor does any log line; and nats-server's log has no TLS handshake error (the healthcheck
      // probes its loopback monitoring port, not the TLS client port).
      const logs = compose(["logs", "--no-color"]);
      for (const [user, password] of Object.entries(passwords))
        expect({ user, inLogs: logs.includes(password) }).toEqual({ user, inLogs: false });
      expect(logs).not.toContain("TLS handshake error");
      for (const tier of TIERS) {
        const [id] = containers(tier);
        const mounts = JSON.parse(dockerd!.cli(["inspect", "--format", "{{json .Mounts}}", id!])) as {
          Source: string;
          Destination: string;
        }[];
        const secretMounts = mounts.filter((m) => m.Destination.startsWith("/run/secrets"));
        expect(secretMounts.map((m) => [m.Destination, m.Source.split("/").slice(-2).join("/")])).toEqual([
          ["/run/secrets/nats-password", `tiers/${tier}.password`],
        ]);
      }

      // The image's HEALTHCHECK (GET /healthz on each tier's own port) turns every tier healthy.
      for (const id of [...TIERS.flatMap(containers), ...workers, ...containers("nats")])
        await until(
          `container ${id.slice(0, 12)} healthy`,
          () =>
            dockerd!.cli(["inspect", "--format", "{{.State.Health.Status}}", id]).trim() === "healthy"
              ? true
              : undefined,
          45_000,
        );
    }, 240_000);

    test("a replica beyond the pool of worker identities exits, saying how to add more; a removed replica's identity goes to the next one", async () => {
      compose(["up", "-d", "--no-recreate", "--scale", `worker=${POOL + 1}`]);
      const extra = await until("the extra replica's refusal", () =>
        containers("worker")
          .map(containerLog)
          .find((l) => l.includes("no free NATS worker identity")),
      );
      expect(extra).toContain(`all ${POOL} in /run/secrets/nats-workers are held`);
      expect(extra).toContain("deploy/compose/bootstrap.ts --workers N");
      // The replicas that hold one keep running.
      const holders = containers("worker").filter((id) => claimedIdentity(id));
      expect(holders).toHaveLength(POOL);

      // A dead replica's lock goes with it: the extra one, restarted by its restart policy, claims it.
      const extraId = containers("worker").find((id) => !holders.includes(id))!;
      const freed = claimedIdentity(holders[0]!)!;
      dockerd!.cli(["rm", "-f", holders[0]!]);
      await until(
        `the extra replica claims ${freed}`,
        () => (claimedIdentity(extraId) === freed ? true : undefined),
        60_000,
      );
    }, 120_000);
  },
);
