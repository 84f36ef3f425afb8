// Cache and artifacts on the docker and ssh executors, end to end (issues 10 and 11): a mesh with
// one worker offering both, a real private dockerd and a real OpenSSH sshd. Per executor, a cache
// saved by one job is restored by the next (a fallback key, an in-project symlink, untracked
// files); an artifact upload reaches the strict coordinator and a dependent job downloads it into
// its own project dir; a symlink pointing out of the project dir is refused and not archived;
// both entries advertise the six features that depend on this working.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { DEBIAN_IMAGE, importDebian } from "../infra/docker-images.ts";
import { type Dockerd, engineAvailable, startDockerd } from "../infra/dockerd.ts";
import { type Sshd, sshdMissing, startSshd } from "../infra/sshd.ts";
import { meshHeader, runnerHead, sshTable, startTomlMesh, type TomlMesh } from "./toml-mesh.ts";

const TOKENS = { docker: "glrt-xfer-docker-0123456789", ssh: "glrt-xfer-ssh-0123456789" } as const;
const SSH_USER = "runmesh-ssh-xfer";
const noSshd = sshdMissing();
const noDocker = engineAvailable ? undefined : "needs root and docker.io: scripts/setup.sh";
const root = mkdtempSync(join(tmpdir(), "runmesh-remote-transfer-"));
let sshd: Sshd | undefined;
let d: Dockerd | undefined;
let coordinator: Coordinator;
let mesh: TomlMesh | undefined;

beforeAll(async () => {
  if (noSshd && noDocker) return;
  coordinator = await startCoordinator({ longPollMs: 1000, traceUpdateIntervalS: 1 });
  const toml = meshHeader({ concurrent: 4, dataDir: join(root, "data") });
  const executors: ("docker" | "ssh")[] = [];
  if (!noDocker) {
    d = await startDockerd();
    await importDebian(d);
    coordinator.registerRunner(TOKENS.docker);
    executors.push("docker");
    toml.push(
      ...runnerHead({ name: "xfer-docker", url: coordinator.url, token: TOKENS.docker, executor: "docker" }),
      "[runners.docker]",
      `host = "${d.host}"`,
      // git in the job's image too: the cache test's untracked files are git's.
      `image = "${DEBIAN_IMAGE}"`,
      `helper_image = "${DEBIAN_IMAGE}"`,
      'pull_policy = "if-not-present"',
    );
  }
  if (!noSshd) {
    sshd = await startSshd({ user: SSH_USER });
    coordinator.registerRunner(TOKENS.ssh);
    executors.push("ssh");
    toml.push(
      ...runnerHead({ name: "xfer-ssh", url: coordinator.url, token: TOKENS.ssh, executor: "ssh" }),
      ...sshTable(sshd),
    );
  }
  mesh = await startTomlMesh({
    toml: toml.join("\n"),
    configPath: "remote-transfer.toml",
    executors,
    workerDataDir: join(root, "worker"),
    workerId: "xfer-worker",
  });
}, 240_000);

afterAll(async () => {
  await mesh?.stop();
  await coordinator?.stop();
  await d?.stop();
  await sshd?.stop();
  if (sshd) spawnSync("rm", ["-rf", `/home/${SSH_USER}/builds`]);
  rmSync(root, { recursive: true, force: true });
});

const NO_GIT = [{ key: "GIT_STRATEGY", value: "none", public: true }];
const traceOf = (id: number) => new TextDecoder().decode(coordinator.jobs.get(id)!.trace);

/** The job's final state; on a timeout the error carries the end of its trace. */
async function finished(id: number) {
  try {
    return await coordinator.waitForFinal(id, 90_000);
  } catch (e) {
    throw new Error(`${(e as Error).message}; trace ends:\n${traceOf(id).slice(-1500)}`);
  }
}

/** The ssh builds dir is shared by the runner's jobs: what one job left must go before the next. */
async function wipe(token: string, paths: string): Promise<void> {
  const job = coordinator.enqueueJob(token, { variables: NO_GIT, script: [`rm -rf ${paths}`] });
  expect((await finished(job.id)).status).toBe("success");
}

/** The entry names of an uploaded zip. */
function zipNames(bytes: Uint8Array): string[] {
  const file = join(root, `upload-${Math.random().toString(36).slice(2)}.zip`);
  writeFileSync(file, bytes);
  const r = spawnSync("zipinfo", ["-1", file], { encoding: "utf8" });
  rmSync(file, { force: true });
  return r.stdout.split("\n").filter(Boolean).sort();
}

for (const executor of ["docker", "ssh"] as const) {
  const missing = executor === "docker" ? noDocker : noSshd;
  const token = TOKENS[executor];
  describe.skipIf(missing !== undefined)(
    `cache and artifacts on the ${executor} executor (${missing ?? "ok"})`,
    () => {
      test("the entry advertises cache, fallback keys, artifacts, multiple and raw uploads and exclude", async () => {
        for (let i = 0; i < 300 && coordinator.managers(token).size === 0; i++) await Bun.sleep(100);
        const [features] = [...coordinator.managers(token).values()];
        const wanted = [
          "artifacts",
          "upload_multiple_artifacts",
          "upload_raw_artifacts",
          "artifacts_exclude",
          "cache",
          "fallback_cache_keys",
        ];
        expect(wanted.map((f) => [f, features?.[f]])).toEqual(wanted.map((f) => [f, true]));
      }, 60_000);

      test("a cache saved by one job is restored by the next through a fallback key, symlinks and untracked files included", async () => {
        const saver = coordinator.enqueueJob(token, {
          variables: NO_GIT,
          script: [
            "git init -q . 2>/dev/null || true",
            "mkdir -p .deps && echo cached-$CI_JOB_ID > .deps/lib && ln -sf lib .deps/link",
            "echo loose-$CI_JOB_ID > loose.txt",
          ],
          cache: [
            {
              key: `deps-${executor}`,
              paths: [".deps"],
              untracked: true,
              policy: "pull-push",
              when: "on_success",
            },
          ],
        });
        const saved = await finished(saver.id);
        expect([saved.status, traceOf(saver.id)]).toEqual([
          "success",
          expect.stringContaining("Created cache"),
        ]);
        await wipe(token, ".deps loose.txt");
        const reader = coordinator.enqueueJob(token, {
          variables: NO_GIT,
          script: ["cat .deps/lib", "echo link=$(readlink .deps/link)", "cat loose.txt"],
          cache: [
            {
              key: `feature-${executor}`,
              fallback_keys: [`deps-${executor}`],
              paths: [".deps"],
              untracked: true,
              policy: "pull",
            },
          ],
        });
        const read = await finished(reader.id);
        const trace = traceOf(reader.id);
        expect(read.status).toBe("success");
        expect(trace).toContain(`Checking cache for deps-${executor}...`);
        expect(trace).toContain("Successfully extracted cache");
        expect(trace).toContain(`cached-${saver.id}\n`);
        expect(trace).toContain("link=lib\n");
        expect(trace).toContain(`loose-${saver.id}\n`);
      }, 180_000);

      test("artifacts upload to the coordinator and a dependent job downloads them into its project dir", async () => {
        const build = coordinator.enqueueJob(token, {
          name: "build",
          variables: NO_GIT,
          script: [
            "mkdir -p dist/sub logs",
            "echo built-$CI_JOB_ID > dist/sub/out.txt",
            "echo skip > dist/skip.txt",
            "echo noise > logs/x.log",
            "echo other > logs/y.txt",
          ],
          artifacts: [
            {
              name: "bundle",
              paths: ["dist/", "logs/*.log"],
              exclude: ["dist/skip.txt"],
              when: "on_success",
              expire_in: "1 day",
            },
          ],
        });
        const built = await finished(build.id);
        expect(built.status).toBe("success");
        expect(coordinator.calls(`POST jobs/${build.id}/artifacts`).map((r) => r.status)).toEqual([201]);
        const [upload] = coordinator.artifacts.uploads.get(build.id) ?? [];
        expect(zipNames(upload!.bytes)).toEqual(["dist/", "dist/sub/", "dist/sub/out.txt", "logs/x.log"]);

        await wipe(token, "dist logs");
        const consumer = coordinator.enqueueJob(token, {
          name: "test",
          variables: NO_GIT,
          script: ["cat dist/sub/out.txt", "test -f logs/x.log", "test ! -e logs/y.txt"],
          dependencies: [
            { id: build.id, name: "build", token: "", artifacts_file: { filename: "bundle.zip", size: 1 } },
          ],
        });
        // GitLab sends the running job's own token for each dependency.
        (consumer.payload.dependencies as { token: string }[])[0]!.token = consumer.token;
        const consumed = await finished(consumer.id);
        const trace = traceOf(consumer.id);
        expect(consumed.status).toBe("success");
        expect(trace).toContain(`Downloading artifacts for build (${build.id})...`);
        expect(trace).toContain(`built-${build.id}\n`);
      }, 180_000);

      test("a symlink pointing out of the project dir is refused and not archived", async () => {
        const job = coordinator.enqueueJob(token, {
          variables: NO_GIT,
          script: ["ln -s /etc/passwd leak", "ln -s ../../../../../../../etc escape", "echo fine > ok.txt"],
          artifacts: [{ name: "mixed", paths: ["leak", "escape", "ok.txt"] }],
        });
        const done = await finished(job.id);
        const trace = traceOf(job.id);
        expect(done.status).toBe("success");
        expect(trace).toContain("leak: symlink points outside the project directory");
        expect(trace).toContain("escape: symlink points outside the project directory");
        const [upload] = coordinator.artifacts.uploads.get(job.id) ?? [];
        expect(zipNames(upload!.bytes)).toEqual(["ok.txt"]);
      }, 120_000);
    },
  );
}
