// The custom executor through a real mesh (poller, scheduler, worker over the in-process bus)
// with a local driver written by the test: config_exec moves builds_dir and names the driver,
// run_exec runs each stage's script on this host, cleanup_exec leaves a mark; GitLab sees the
// trace, the script's own exit code (BUILD_EXIT_CODE_FILE) and a system failure as one.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import {
  customTable,
  driverScript,
  meshHeader,
  runnerHead,
  startTomlMesh,
  type TomlMesh,
} from "./toml-mesh.ts";

const TOKEN = "glrt-mesh-custom-0123456789";
const root = mkdtempSync(join(tmpdir(), "runmesh-custom-mesh-"));
const drivers = join(root, "driver");
const customBuilds = join(root, "driver-builds");
const cleaned = join(root, "cleaned");
let coordinator: Coordinator;
let mesh: TomlMesh | undefined;

const script = (name: string, body: string) => driverScript(drivers, name, body);

beforeAll(async () => {
  mkdirSync(drivers, { recursive: true });
  const config = script(
    "config.sh",
    `echo '{"builds_dir":"${customBuilds}","builds_dir_is_shared":false,"driver":{"name":"local","version":"v1"},"job_env":{"DRIVER_MODE":"local"}}'`,
  );
  const prepare = script("prepare.sh", 'echo "preparing job $CUSTOM_ENV_CI_JOB_ID in $DRIVER_MODE mode"');
  // GitLab's documented run_exec shape: the script's failure becomes BUILD_FAILURE_EXIT_CODE,
  // its code written to BUILD_EXIT_CODE_FILE; a job with FAIL_SYSTEM=yes fails the system.
  const run = script(
    "run.sh",
    [
      'if [ "$CUSTOM_ENV_FAIL_SYSTEM" = "yes" ] && [ "$2" = "build_script" ]; then exit "$SYSTEM_FAILURE_EXIT_CODE"; fi',
      'bash "$1" || { code=$?; echo "$code" > "$BUILD_EXIT_CODE_FILE"; exit "$BUILD_FAILURE_EXIT_CODE"; }',
    ].join("\n"),
  );
  const cleanup = script("cleanup.sh", `echo "$CUSTOM_ENV_CI_JOB_ID" >> ${cleaned}`);
  coordinator = await startCoordinator({ longPollMs: 1000, traceUpdateIntervalS: 1 });
  coordinator.registerRunner(TOKEN);
  const toml = [
    ...meshHeader({ concurrent: 2, dataDir: join(root, "data") }),
    ...runnerHead({ name: "on-custom", url: coordinator.url, token: TOKEN, executor: "custom" }),
    ...customTable({ config, prepare, run, cleanup }),
  ].join("\n");
  mesh = await startTomlMesh({
    toml,
    configPath: "custom-mesh.toml",
    executors: ["custom"],
    workerDataDir: join(root, "worker"),
    workerId: "custom-worker",
  });
}, 60_000);

afterAll(async () => {
  await mesh?.stop();
  await coordinator?.stop();
  rmSync(root, { recursive: true, force: true });
});

const cleanedJobs = () => (existsSync(cleaned) ? readFileSync(cleaned, "utf8").trim().split("\n") : []);

describe("a mesh with a custom runner entry and a local driver", () => {
  test("config_exec moves the builds dir; prepare_exec, run_exec and cleanup_exec run in order", async () => {
    const job = coordinator.enqueueJob(TOKEN, {
      gitStrategy: "none",
      script: ['echo "dir=$PWD"', 'echo "builds=$CI_BUILDS_DIR"'],
    });
    const done = await coordinator.waitForFinal(job.id, 60_000);
    expect(done.status).toBe("success");
    expect(done.traceText).toContain("Using Custom executor with driver local v1...");
    expect(done.traceText).toContain(`preparing job ${job.id} in local mode`);
    // Not shared (builds_dir_is_shared false): no token and concurrency dirs.
    expect(done.traceText).toContain(`dir=${customBuilds}/group/project\n`);
    expect(done.traceText).toContain(`builds=${customBuilds}\n`);
    expect(done.features.shared).toBe(true);
    expect(cleanedJobs()).toContain(String(job.id));
  }, 90_000);

  test("a failing script is a script failure with its own exit code, and cleanup still runs", async () => {
    const job = coordinator.enqueueJob(TOKEN, { gitStrategy: "none", script: ["exit 42"] });
    const done = await coordinator.waitForFinal(job.id, 60_000);
    expect([done.status, done.failureReason, done.exitCode]).toEqual(["failed", "script_failure", 42]);
    expect(cleanedJobs()).toContain(String(job.id));
  }, 90_000);

  test("SYSTEM_FAILURE_EXIT_CODE from run_exec is a runner system failure", async () => {
    const job = coordinator.enqueueJob(TOKEN, {
      gitStrategy: "none",
      variables: [{ key: "FAIL_SYSTEM", value: "yes", public: true }],
      script: ["echo never"],
    });
    const done = await coordinator.waitForFinal(job.id, 60_000);
    expect([done.status, done.failureReason]).toEqual(["failed", "runner_system_failure"]);
    expect(done.traceText).toContain("exited with SYSTEM_FAILURE_EXIT_CODE (2)");
    expect(cleanedJobs()).toContain(String(job.id));
  }, 90_000);
});
