// The custom executor with a driver that runs the job in a container on the test's private
// dockerd (tests/infra/dockerd.ts), the shape of GitLab's documented container drivers:
// config_exec puts builds in /builds of the container, prepare_exec starts it, run_exec feeds
// each stage's script to bash in it, cleanup_exec removes it, whatever the job's end.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEBIAN_IMAGE, importDebian } from "../../../tests/infra/docker-images.ts";
import { dockerPayload, script } from "../../../tests/infra/docker-job.ts";
import { type Dockerd, engineAvailable, startDockerd } from "../../../tests/infra/dockerd.ts";
import { customSchema } from "../../config/executor-sections.ts";
import { planJob } from "../../job/job-plan.ts";
import { runJob } from "../../job/run-job.ts";
import { customProvider } from "./provider.ts";

const dir = mkdtempSync(join(tmpdir(), "runmesh-custom-docker-"));
let d: Dockerd;

function driver(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/bash\nexport DOCKER_HOST=${JSON.stringify(d.host)}\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

beforeAll(async () => {
  if (!engineAvailable) return;
  d = await startDockerd();
  await importDebian(d);
}, 300_000);

afterAll(async () => {
  await d?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!engineAvailable)(
  "custom executor, container driver [needs root and docker.io: scripts/setup.sh]",
  () => {
    test("the job runs in the driver's container under the builds_dir config_exec gave; cleanup removes it", async () => {
      const name = 'runmesh-custom-"$CUSTOM_ENV_CI_JOB_ID"';
      const custom = customSchema.parse({
        config_exec: driver(
          "config.sh",
          `echo '{"builds_dir":"/builds","cache_dir":"/cache","builds_dir_is_shared":false,"driver":{"name":"container","version":"test"}}'`,
        ),
        prepare_exec: driver(
          "prepare.sh",
          `docker run -d --name ${name} ${DEBIAN_IMAGE} sleep 600 >/dev/null`,
        ),
        run_exec: driver(
          "run.sh",
          `docker exec -i ${name} bash < "$1" || { code=$?; echo "$code" > "$BUILD_EXIT_CODE_FILE"; exit "$BUILD_FAILURE_EXIT_CODE"; }`,
        ),
        cleanup_exec: driver("cleanup.sh", `docker rm -f ${name} >/dev/null`),
      });
      const provider = customProvider();
      const runner = { name: "custom-docker", short_token: "abcdefghi", custom };
      const settings = { ...runner, executor: "custom" };
      const job = dockerPayload(
        { steps: script(["cat /etc/debian_version", 'echo "dir=$PWD"', "test -f /.dockerenv", "exit 3"]) },
        77,
      );
      const executor = provider.create({ worker: {}, runner });
      const base = planJob(job, settings, {
        executor: provider,
        layout: provider.layout({ workerBuildsDir: join(dir, "w"), workerCacheDir: join(dir, "c"), runner }),
      });
      const override = await executor.configure?.({
        jobId: job.id,
        variables: job.variables,
        signal: new AbortController().signal,
      });
      const plan = planJob(job, settings, {
        executor: provider,
        layout: { ...base.layout, buildsDir: override?.buildsDir ?? "", sharedBuildsDir: false },
      });
      let log = "";
      const append = (b: Uint8Array) => (log += new TextDecoder().decode(b));
      const result = await runJob({
        plan,
        executor,
        log: { runner: append, output: (_s, b) => append(b), endOutput: () => {} },
        cancelSignal: new AbortController().signal,
        abortSignal: new AbortController().signal,
        systemId: "s_0123456789ab",
        version: "0.1.0",
        revision: "abcdef12",
        prepareRetryDelayMs: 10,
      });
      expect(log).toContain("Using Custom executor with driver container test...");
      expect(log).toMatch(/\n12\.\d+\n/);
      expect(log).toContain("dir=/builds/group/project\n");
      // The script's own exit code came back through BUILD_EXIT_CODE_FILE.
      expect([result.state, result.failureReason, result.exitCode]).toEqual(["failed", "script_failure", 3]);
      expect(d.cli(["ps", "-aq", "--filter", "name=runmesh-custom-77"]).trim()).toBe("");
    }, 180_000);
  },
);
