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
import { join } from "node:path";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { BUSYBOX_IMAGE, DEBIAN_IMAGE, importDebian } from "../infra/docker-images.ts";
import { type Dockerd, engineAvailable, startDockerd } from "../infra/dockerd.ts";
import { buildSshdImage, SSHD_IMAGE, sshdImageMissing } from "../infra/sshd-image.ts";
import { dockerPluginAutoscaler, meshHeader, runnerHead, startTomlMesh, type TomlMesh } from "./toml-mesh.ts";

const TOKEN = "glrt-docker-autoscaler-mesh-0123456789";
const GROUP = "docker-autoscaler-e2e";
const missing = !engineAvailable ? "needs root and dockerd" : sshdImageMissing();
const root = mkdtempSync(join(tmpdir(), "runmesh-das-mesh-"));
let d: Dockerd;
let coordinator: Coordinator;
let mesh: TomlMesh | undefined;

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
    ...meshHeader({ concurrent: 2, dataDir: join(root, "data"), workerLostAfter: "4s" }),
    ...runnerHead({
      name: "on-docker-instances",
      url: coordinator.url,
      token: TOKEN,
      executor: "docker-autoscaler",
    }),
    "[runners.docker]",
    `image = "${BUSYBOX_IMAGE}"`,
    `helper_image = "${DEBIAN_IMAGE}"`,
    'pull_policy = "if-not-present"',
    ...dockerPluginAutoscaler({
      dockerHost: d.host,
      image: SSHD_IMAGE,
      group: GROUP,
      maxInstances: 1,
      maxUseCount: 1,
      portRange: "23500-23599",
      idleTime: "1s",
      binds: [`${d.socket}:/var/run/docker.sock`],
    }),
  ].join("\n");
  const configPath = join(root, "config.toml");
  mesh = await startTomlMesh({
    toml,
    configPath,
    executors: ["docker-autoscaler"],
    workerDataDir: join(root, "worker"),
    workerId: "das-worker",
    autoscaler: true,
  });
}, 240_000);

afterAll(async () => {
  await mesh?.stop();
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
        mesh!.logs.filter((l) => l.includes('"msg":"released the instance"') && l.includes('"released":true'))
          .length,
      ).toBe(1);
      // Removed because its one use was spent (max_use_count = 1), not for idling past idle_time.
      const removal = mesh!.logs.find(
        (l) => l.includes('"msg":"required scaling change"') && l.includes(`"${dialled}":`),
      );
      expect(removal).toContain(`"${dialled}":"retired"`);
    }, 240_000);
  },
);
