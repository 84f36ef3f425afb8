// The docker executor on a real engine: a private dockerd (tests/infra/dockerd.ts), images built
// locally (busybox from busybox-static, Debian with bash and git from debootstrap), whole jobs run
// through the stage machine. After each job the engine is listed: nothing of the job may remain.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUSYBOX_IMAGE, DEBIAN_IMAGE, importBusybox, importDebian } from "../infra/docker-images.ts";
import { type DockerRunOptions, dockerPayload, runDockerJob, script } from "../infra/docker-job.ts";
import { type Dockerd, engineAvailable, startDockerd } from "../infra/dockerd.ts";

const dir = mkdtempSync(join(tmpdir(), "runmesh-docker-exec-"));
let d: Dockerd;
const WORKER = "w-docker-test";

beforeAll(async () => {
  if (!engineAvailable) return;
  d = await startDockerd();
  await importBusybox(d);
  await importDebian(d);
}, 180_000);

afterAll(async () => {
  await d?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function opts(docker: Record<string, unknown>, more: Partial<DockerRunOptions> = {}): DockerRunOptions {
  return {
    docker: { host: d.host, helper_image: DEBIAN_IMAGE, pull_policy: "if-not-present", ...docker },
    workerId: WORKER,
    workerBuildsDir: join(dir, "builds"),
    ...more,
  };
}

/** The engine's containers and volumes of this worker (cache volumes excluded). */
function leftovers(): string[] {
  const containers = d.cli([
    "ps",
    "-a",
    "--filter",
    `label=runmesh.worker=${WORKER}`,
    "--format",
    "{{.Names}}",
  ]);
  const volumes = d.cli([
    "volume",
    "ls",
    "--filter",
    `label=runmesh.worker=${WORKER}`,
    "--format",
    "{{.Name}}",
  ]);
  return [...containers.split("\n"), ...volumes.split("\n")].filter(Boolean);
}

const NO_ENGINE = "no private dockerd here (needs root and docker.io: scripts/setup.sh)";

describe("docker executor on a real engine", () => {
  test.skipIf(!engineAvailable)(
    `runs the script in the runner's image, with sh where the image has no bash [${NO_ENGINE}]`,
    async () => {
      const { result, log } = await runDockerJob(
        dockerPayload({
          // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion
          steps: script(['echo "shell=${BASH_VERSION:-none} $(cat /etc/hostname)"', "ls /bin/busybox"]),
        }),
        opts({ image: BUSYBOX_IMAGE }),
      );
      expect(log).toContain("Using Docker executor with image local/busybox:latest ...");
      expect(log).toContain("shell=none ");
      expect(result).toEqual({ state: "success", message: "Job succeeded" });
      expect(leftovers()).toEqual([]);
    },
  );
});
