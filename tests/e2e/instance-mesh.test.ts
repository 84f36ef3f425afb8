// The instance executor end to end (issue 15): a runner entry with executor = "instance" and
// [runners.autoscaler] plugin "docker" (the built-in fleeting plugin, a separate process through
// the go-plugin host) behind the autoscaler tier, with the scheduler, a worker and the poller on
// one bus, against the test coordinator. Jobs queued with no instance → the autoscaler creates
// containers-as-instances (sshd on the host network, one loopback port each, on a private
// dockerd) → each job runs on one over SSH (it sees the instance's own files and its sshd port)
// → the instance is released, and max_use_count = 1 retires it. A second entry without
// max_use_count reuses its instance for the next job and removes it after idle_time.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { type Dockerd, engineAvailable, startDockerd } from "../infra/dockerd.ts";
import { buildSshdImage, SSHD_IMAGE, sshdImageMissing } from "../infra/sshd-image.ts";
import { dockerPluginAutoscaler, meshHeader, runnerHead, startTomlMesh, type TomlMesh } from "./toml-mesh.ts";

const TOKEN = "glrt-instance-mesh-0123456789";
const GROUP = "instance-e2e";
/** A second entry whose instances serve many jobs (no max_use_count) and go after idle_time. */
const IDLE_TOKEN = "glrt-instance-mesh-idle-0123456789";
const IDLE_GROUP = "instance-e2e-idle";
const missing = !engineAvailable ? "needs root and dockerd" : sshdImageMissing();
const root = mkdtempSync(join(tmpdir(), "runmesh-instance-mesh-"));
let d: Dockerd;
let coordinator: Coordinator;
let mesh: TomlMesh | undefined;

/** The group's containers: name and sshd port. */
function instances(group = GROUP): { name: string; port: number }[] {
  const out = d.cli([
    "ps",
    "-a",
    "--filter",
    `label=runmesh.fleeting.group=${group}`,
    "--format",
    '{{.Names}} {{.Label "runmesh.fleeting.port"}}',
  ]);
  return out
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const [name, port] = l.trim().split(" ");
      return { name: name!, port: Number(port) };
    });
}

beforeAll(async () => {
  if (missing) return;
  d = await startDockerd();
  await buildSshdImage(d);
  coordinator = await startCoordinator({ longPollMs: 1000, traceUpdateIntervalS: 1 });
  coordinator.registerRunner(TOKEN);
  coordinator.registerRunner(IDLE_TOKEN);
  const toml = [
    ...meshHeader({ concurrent: 4, dataDir: join(root, "data"), workerLostAfter: "4s" }),
    ...runnerHead({ name: "on-instances", url: coordinator.url, token: TOKEN, executor: "instance" }),
    // The instances are busybox with sshd: no bash.
    'shell = "sh"',
    ...dockerPluginAutoscaler({
      dockerHost: d.host,
      image: SSHD_IMAGE,
      group: GROUP,
      maxInstances: 2,
      maxUseCount: 1,
      portRange: "23400-23499",
      idleTime: "1s",
    }),
    ...runnerHead({
      name: "on-idle-instances",
      url: coordinator.url,
      token: IDLE_TOKEN,
      executor: "instance",
    }),
    'shell = "sh"',
    ...dockerPluginAutoscaler({
      dockerHost: d.host,
      image: SSHD_IMAGE,
      group: IDLE_GROUP,
      maxInstances: 1,
      portRange: "23600-23699",
      idleTime: "20s",
    }),
  ].join("\n");
  const configPath = join(root, "config.toml");
  mesh = await startTomlMesh({
    toml,
    configPath,
    executors: ["instance"],
    workerDataDir: join(root, "worker"),
    workerId: "instance-worker",
    autoscaler: true,
  });
}, 180_000);

afterAll(async () => {
  await mesh?.stop();
  await coordinator?.stop();
  await d?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe.skipIf(missing !== undefined)(`instance executor on docker instances (${missing ?? "ok"})`, () => {
  test("queued jobs make instances; each job runs on its own instance over SSH; used instances are released and retired", async () => {
    expect(instances()).toEqual([]);
    const script = [
      // Only an instance has its sshd's key directory; the host does not.
      "test -f /etc/runmesh-ssh/authorized_keys && echo on-instance=yes",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's expansion, not a template
      'echo "sshd-port=${SSH_CONNECTION##* }"',
      'echo "dir=$PWD"',
      "sleep 1",
    ];
    const jobs = [0, 1].map(() => coordinator.enqueueJob(TOKEN, { gitStrategy: "none", script }));
    const seen = new Map<string, number>();
    const done = await Promise.all(
      jobs.map(async (j) => {
        // While a job runs, its instance is one of the group's containers.
        await coordinator.waitForJob(j.id, (x) => x.traceText.includes("sshd-port="), 120_000);
        for (const i of instances()) seen.set(i.name, i.port);
        return coordinator.waitForFinal(j.id, 120_000);
      }),
    );
    if (process.env.SHOW_TRACE) console.log(done[0]!.traceText);
    const ports: number[] = [];
    for (const job of done) {
      expect({ status: job.status, trace: job.traceText }).toMatchObject({ status: "success" });
      expect(job.traceText).toContain("Preparing instance...");
      const dialled = /Dialing instance (\S+)\.\.\./.exec(job.traceText)?.[1];
      expect(dialled).toBeDefined();
      expect(job.traceText).toContain(`Instance ${dialled} connected`);
      expect(job.traceText).toContain("on-instance=yes");
      const port = Number(/sshd-port=(\d+)/.exec(job.traceText)?.[1]);
      // The job's SSH session ended on the sshd of the instance it dialled.
      expect(seen.get(dialled!)).toBe(port);
      expect(job.traceText).toMatch(/dir=\/root\/builds\/[^/\s]+\/\d+\//);
      expect(job.features.shared).toBe(true);
      ports.push(port);
    }
    expect(existsSync("/etc/runmesh-ssh")).toBe(false);
    // capacity_per_instance = 1: two jobs at once, two instances.
    expect(new Set(ports).size).toBe(2);
    // Released after the job and, max_use_count = 1, retired: the containers go.
    const deadline = Date.now() + 60_000;
    while (instances().length > 0 && Date.now() < deadline) await Bun.sleep(200);
    expect(instances()).toEqual([]);
    const released = mesh!.logs.filter((l) => l.includes('"msg":"released the instance"'));
    expect(released.length).toBe(2);
    expect(released.every((l) => l.includes('"released":true'))).toBe(true);
    // The instance's private key travelled in the acquire reply only: in no log line or trace.
    expect(mesh!.logs.filter((l) => l.includes("PRIVATE KEY"))).toEqual([]);
    expect(done.filter((j) => j.traceText.includes("PRIVATE KEY"))).toEqual([]);
  }, 240_000);

  test("without max_use_count the next job reuses the instance; once idle for idle_time it is removed", async () => {
    expect(instances(IDLE_GROUP)).toEqual([]);
    const dialled: string[] = [];
    for (const n of [1, 2]) {
      const job = coordinator.enqueueJob(IDLE_TOKEN, { gitStrategy: "none", script: [`echo job-${n}`] });
      const done = await coordinator.waitForFinal(job.id, 120_000);
      expect({ status: done.status, trace: done.traceText }).toMatchObject({ status: "success" });
      dialled.push(/Dialing instance (\S+)\.\.\./.exec(done.traceText)?.[1] ?? "");
    }
    // One instance served both jobs (max_instances 1 would also force it, but a new one would show a new name).
    expect(dialled[0]).toMatch(new RegExp(`^runmesh-fleeting-${IDLE_GROUP}-`));
    expect(dialled[1]).toBe(dialled[0]);
    expect(instances(IDLE_GROUP).map((i) => i.name)).toEqual([dialled[0]!]);
    // idle_count 0: after idle_time (20 s) without a job the instance goes.
    const deadline = Date.now() + 90_000;
    while (instances(IDLE_GROUP).length > 0 && Date.now() < deadline) await Bun.sleep(500);
    expect(instances(IDLE_GROUP)).toEqual([]);
  }, 240_000);
});
