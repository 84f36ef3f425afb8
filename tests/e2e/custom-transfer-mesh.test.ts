// Cache and artifacts on the custom executor, through a real mesh (poller, scheduler, worker on
// the in-process bus) and the strict coordinator, with two drivers written by the test: one that
// runs every script on this host (a fresh builds dir per job from config_exec, so nothing
// survives between jobs but the cache), and one that runs them in a container on the test's
// private dockerd (`docker exec -i … bash < script`). The worker moves files through transfer
// scripts run by the driver's run_exec (libs/executors/custom/driver-workspace.ts): a cache saved
// by one job is restored by the next, an artifact upload reaches GitLab with the file's bytes,
// and a later job downloads it as a dependency.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { DEBIAN_IMAGE, importDebian } from "../infra/docker-images.ts";
import { type Dockerd, engineAvailable, startDockerd } from "../infra/dockerd.ts";
import {
  customTable,
  driverScript,
  meshHeader,
  runnerHead,
  startTomlMesh,
  type TomlMesh,
} from "./toml-mesh.ts";

const LOCAL = "glrt-custom-local-transfer-0123";
const CONTAINER = "glrt-custom-container-transfer-0";
const root = mkdtempSync(join(tmpdir(), "runmesh-custom-transfer-"));
const drivers = join(root, "drivers");
let coordinator: Coordinator;
let mesh: TomlMesh | undefined;
let dockerd: Dockerd | undefined;

const script = (name: string, body: string) => driverScript(drivers, name, body);

/** GitLab's documented run_exec shape: the script's failure becomes BUILD_FAILURE_EXIT_CODE. */
const RUN_TAIL = '|| { code=$?; echo "$code" > "$BUILD_EXIT_CODE_FILE"; exit "$BUILD_FAILURE_EXIT_CODE"; }';

function localEntry(): string[] {
  const config = script(
    "local-config.sh",
    `echo "{\\"builds_dir\\":\\"${join(root, "local-builds")}/$CUSTOM_ENV_CI_JOB_ID\\",\\"builds_dir_is_shared\\":false}"`,
  );
  const run = script("local-run.sh", `bash "$1" ${RUN_TAIL}`);
  return [
    ...runnerHead({ name: "custom-local", url: coordinator.url, token: LOCAL, executor: "custom" }),
    ...customTable({ config, run }),
  ];
}

function containerEntry(host: string): string[] {
  const env = `export DOCKER_HOST=${JSON.stringify(host)}\nname="runmesh-custom-transfer-$CUSTOM_ENV_CI_JOB_ID"`;
  const config = script(
    "container-config.sh",
    `echo '{"builds_dir":"/builds","builds_dir_is_shared":false}'`,
  );
  const prepare = script(
    "container-prepare.sh",
    `${env}\ndocker run -d --name "$name" ${DEBIAN_IMAGE} sleep 600 >/dev/null`,
  );
  const run = script("container-run.sh", `${env}\ndocker exec -i "$name" bash < "$1" ${RUN_TAIL}`);
  const cleanup = script("container-cleanup.sh", `${env}\ndocker rm -f "$name" >/dev/null`);
  return [
    ...runnerHead({ name: "custom-container", url: coordinator.url, token: CONTAINER, executor: "custom" }),
    ...customTable({ config, prepare, run, cleanup }),
  ];
}

beforeAll(async () => {
  mkdirSync(drivers, { recursive: true });
  coordinator = await startCoordinator({ longPollMs: 1000, traceUpdateIntervalS: 1 });
  coordinator.registerRunner(LOCAL);
  if (engineAvailable) {
    dockerd = await startDockerd();
    await importDebian(dockerd);
    coordinator.registerRunner(CONTAINER);
  }
  const toml = [
    ...meshHeader({ concurrent: 2, dataDir: join(root, "data") }),
    ...localEntry(),
    ...(dockerd ? containerEntry(dockerd.host) : []),
  ].join("\n");
  mesh = await startTomlMesh({
    toml,
    configPath: "custom-transfer.toml",
    executors: ["custom"],
    workerDataDir: join(root, "worker"),
    workerId: "custom-transfer-worker",
  });
}, 300_000);

afterAll(async () => {
  await mesh?.stop();
  await coordinator?.stop();
  await dockerd?.stop();
  rmSync(root, { recursive: true, force: true });
});

const traceOf = (id: number) => new TextDecoder().decode(coordinator.jobs.get(id)!.trace);

/** The file names and one file's content in an uploaded zip, read by Info-ZIP's unzip. */
function zipContents(bytes: Uint8Array, file: string): { names: string[]; content: string } {
  const zip = join(root, `upload-${crypto.randomUUID()}.zip`);
  writeFileSync(zip, bytes);
  const names = execFileSync("unzip", ["-Z1", zip]).toString().trim().split("\n").sort();
  const content = execFileSync("unzip", ["-p", zip, file]).toString();
  return { names, content };
}

function transferTests(token: () => string, label: string) {
  test(`${label}: the entry advertises cache and artifacts in jobs/request`, async () => {
    // This entry's own first request: the entries' lanes start spread over check_interval.
    await coordinator.waitForRequest(
      (r) =>
        r.path.endsWith("/jobs/request") && (r.body as { token?: string } | undefined)?.token === token(),
      10_000,
    );
    const [features] = [...coordinator.managers(token()).values()];
    for (const f of [
      "cache",
      "fallback_cache_keys",
      "artifacts",
      "upload_multiple_artifacts",
      "artifacts_exclude",
    ])
      expect([f, features?.[f]]).toEqual([f, true]);
  });

  test(`${label}: a cache saved by one job is restored into the next job's fresh project dir`, async () => {
    const key = `deps-${label}`;
    const saver = coordinator.enqueueJob(token(), {
      gitStrategy: "none",
      script: ["mkdir -p .deps/sub && echo cached-$CI_JOB_ID > .deps/sub/lib && ln -s sub/lib .deps/link"],
      cache: [{ key, paths: [".deps"], policy: "pull-push", when: "on_success" }],
    });
    const saved = await coordinator.waitForFinal(saver.id, 120_000);
    expect(saved.status).toBe("success");
    expect(traceOf(saver.id)).toContain(`Creating cache ${key}...`);
    expect(traceOf(saver.id)).toContain("Created cache");

    const reader = coordinator.enqueueJob(token(), {
      gitStrategy: "none",
      script: ["cat .deps/sub/lib", "readlink .deps/link"],
      cache: [{ key, paths: [".deps"], policy: "pull" }],
    });
    const read = await coordinator.waitForFinal(reader.id, 120_000);
    const trace = traceOf(reader.id);
    expect(read.status).toBe("success");
    expect(trace).toContain("Successfully extracted cache");
    expect(trace).toContain(`cached-${saver.id}\n`);
    expect(trace).toContain("sub/lib\n");
  }, 240_000);

  test(`${label}: an artifact upload carries the job's files to GitLab; a dependent job downloads them`, async () => {
    const build = coordinator.enqueueJob(token(), {
      name: "build",
      gitStrategy: "none",
      script: ["mkdir -p dist/sub && echo built-$CI_JOB_ID > dist/sub/out.txt && echo skip > dist/skip.log"],
      artifacts: [{ name: "bundle", paths: ["dist/"], exclude: ["dist/*.log"], when: "on_success" }],
    });
    const built = await coordinator.waitForFinal(build.id, 120_000);
    expect(built.status).toBe("success");
    expect(coordinator.calls(`POST jobs/${build.id}/artifacts`).map((r) => r.status)).toEqual([201]);
    const upload = coordinator.artifacts.uploads.get(build.id)?.[0];
    const zip = zipContents(upload!.bytes, "dist/sub/out.txt");
    expect(zip.names).toEqual(["dist/", "dist/sub/", "dist/sub/out.txt"]);
    expect(zip.content).toBe(`built-${build.id}\n`);

    const consumer = coordinator.enqueueJob(token(), {
      name: "test",
      gitStrategy: "none",
      script: ["cat dist/sub/out.txt"],
      dependencies: [
        { id: build.id, name: "build", token: "", artifacts_file: { filename: "bundle.zip", size: 1 } },
      ],
    });
    (consumer.payload.dependencies as { token: string }[])[0]!.token = consumer.token;
    const consumed = await coordinator.waitForFinal(consumer.id, 120_000);
    expect(consumed.status).toBe("success");
    expect(traceOf(consumer.id)).toContain(`built-${build.id}\n`);
  }, 240_000);
}

describe("custom executor, local driver: cache and artifacts through run_exec", () => {
  transferTests(() => LOCAL, "local");
});

describe.skipIf(!engineAvailable)(
  "custom executor, container driver: cache and artifacts through run_exec [needs root and docker.io: scripts/setup.sh]",
  () => {
    transferTests(() => CONTAINER, "container");

    test("container: nothing is left on the engine after the jobs", () => {
      expect(dockerd!.cli(["ps", "-aq", "--filter", "name=runmesh-custom-transfer-"]).trim()).toBe("");
    });
  },
);
