// The ssh executor through a real mesh (poller, scheduler, worker over the in-process bus) and a
// real OpenSSH sshd on a loopback port: a runner entry with `executor = "ssh"` gets jobs from the
// coordinator; they run on the host as the [runners.ssh] user under its ~/builds, GitLab sees
// the trace, the exit code and `shared`, and a canceled job's remote processes are gone.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { type Sshd, sshdMissing, startSshd } from "../infra/sshd.ts";
import { meshHeader, runnerHead, sshTable, startTomlMesh, type TomlMesh } from "./toml-mesh.ts";

const TOKEN = "glrt-mesh-ssh-0123456789";
const missing = sshdMissing();
const root = mkdtempSync(join(tmpdir(), "runmesh-ssh-mesh-"));
let sshd: Sshd;
let coordinator: Coordinator;
let mesh: TomlMesh | undefined;

beforeAll(async () => {
  if (missing) return;
  sshd = await startSshd();
  coordinator = await startCoordinator({ longPollMs: 1000, traceUpdateIntervalS: 1 });
  coordinator.registerRunner(TOKEN);
  const toml = [
    ...meshHeader({ concurrent: 2, dataDir: join(root, "data") }),
    ...runnerHead({ name: "on-ssh", url: coordinator.url, token: TOKEN, executor: "ssh" }),
    ...sshTable(sshd),
  ].join("\n");
  mesh = await startTomlMesh({
    toml,
    configPath: "ssh-mesh.toml",
    executors: ["ssh"],
    workerDataDir: join(root, "worker"),
    workerId: "ssh-worker",
  });
}, 120_000);

afterAll(async () => {
  await mesh?.stop();
  await coordinator?.stop();
  await sshd?.stop();
  if (!missing) spawnSync("rm", ["-rf", `/home/${sshd?.user ?? "none"}/builds`]);
  rmSync(root, { recursive: true, force: true });
});

describe.skipIf(missing !== undefined)(
  `a mesh with an ssh runner entry (needs sshd: ${missing ?? "ok"})`,
  () => {
    test("the job runs on the ssh host as its user, under ~/builds, and succeeds", async () => {
      const job = coordinator.enqueueJob(TOKEN, {
        gitStrategy: "none",
        script: ["id -un", 'echo "dir=$PWD"', 'echo "builds=$CI_BUILDS_DIR"'],
      });
      const done = await coordinator.waitForFinal(job.id, 60_000);
      expect(done.status).toBe("success");
      expect(done.traceText).toContain("Using SSH executor...");
      expect(done.traceText).toContain(` 01O ${sshd.user}\n`);
      expect(done.traceText).toMatch(new RegExp(`dir=/home/${sshd.user}/builds/[^/\\s]+/0/`));
      expect(done.traceText).toContain(`builds=/home/${sshd.user}/builds\n`);
      expect(done.features.shared).toBe(true);
    }, 90_000);

    test("a failing remote command fails the job with its exit code", async () => {
      const job = coordinator.enqueueJob(TOKEN, { gitStrategy: "none", script: ["echo before", "exit 42"] });
      const done = await coordinator.waitForFinal(job.id, 60_000);
      expect(done.status).toBe("failed");
      expect(done.failureReason).toBe("script_failure");
      expect(done.exitCode).toBe(42);
    }, 90_000);

    test("a canceled job's remote processes are killed", async () => {
      const marker = `runmesh-ssh-mesh-${process.pid}`;
      const job = coordinator.enqueueJob(TOKEN, {
        gitStrategy: "none",
        // Output keeps flowing so the worker's trace patches see Job-Status: canceling at once.
        script: [`(exec -a ${marker} sleep 600) & echo started; while true; do echo tick; sleep 0.2; done`],
      });
      await coordinator.waitForJob(job.id, (j) => j.traceText.includes("started"), 60_000);
      const running = () =>
        spawnSync("pgrep", ["-u", sshd.user, "-f", marker], { encoding: "utf8" }).stdout.trim();
      expect(running()).not.toBe("");
      coordinator.cancel(job.id);
      const done = await coordinator.waitForFinal(job.id, 60_000);
      expect(done.status).toBe("canceled");
      let left = running();
      for (let i = 0; i < 50 && left !== ""; i++) {
        await Bun.sleep(100);
        left = running();
      }
      expect(left).toBe("");
    }, 90_000);
  },
);
