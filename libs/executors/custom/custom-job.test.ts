// Whole jobs on the custom executor with local shell-script drivers written by the test, planned
// and run as a worker runs them (configure, plan again with the driver's layout, the stage
// machine): what GitLab Runner does around the driver, beyond one call. config_exec's hostname in
// prepare_script's "Running on … via …" line and its shell choice, JOB_RESPONSE_FILE in every
// call, prepare_exec's BUILD_FAILURE_EXIT_CODE as a script failure at once, its
// SYSTEM_FAILURE_EXIT_CODE retried with cleanup_exec and config_exec between attempts, and
// cleanup_exec's output in the runner's log, not the job's.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { dockerPayload, script } from "../../../tests/infra/docker-job.ts";
import { customSchema } from "../../config/executor-sections.ts";
import { planJob } from "../../job/job-plan.ts";
import type { JobPayload } from "../../job/payload.ts";
import { type JobResult, runJob } from "../../job/run-job.ts";
import { createLogger } from "../../log/logger.ts";
import { customProvider } from "./provider.ts";

const dir = mkdtempSync(join(tmpdir(), "runmesh-custom-job-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function driver(body: string): string {
  const path = join(dir, `driver-${++n}.sh`);
  writeFileSync(path, `#!/bin/bash\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** Appends a line to the test's call record: which driver call ran, and what it saw. */
const record = (file: string, what: string) => `echo "${what}" >> ${JSON.stringify(file)}`;

const localRun = (extra = "") =>
  driver(
    `${extra}\nbash "$1" || { code=$?; echo "$code" > "$BUILD_EXIT_CODE_FILE"; exit "$BUILD_FAILURE_EXIT_CODE"; }`,
  );

interface Run {
  result: JobResult;
  log: string;
  runnerLog: string;
}

async function runCustomJob(job: JobPayload, custom: Record<string, unknown>): Promise<Run> {
  const provider = customProvider();
  const runner = { name: "custom-1", short_token: "abcdefghi", custom: customSchema.parse(custom) };
  const settings = { ...runner, executor: "custom", builds_dir: join(dir, "builds") };
  let runnerLog = "";
  const logger = createLogger({
    service: "worker",
    level: "debug",
    destination: { write: (line) => (runnerLog += line) },
  });
  const executor = provider.create({ worker: {}, runner, log: logger });
  const layout = provider.layout({
    buildsDir: settings.builds_dir,
    workerBuildsDir: join(dir, "w"),
    workerCacheDir: join(dir, "c"),
    runner,
  });
  // As the worker does (job-lifecycle.ts): configure, then plan with what config_exec decided.
  const override = await executor
    .configure?.({
      jobId: job.id,
      variables: job.variables,
      signal: new AbortController().signal,
      jobResponse: job,
    })
    .catch(() => undefined);
  const plan = planJob(
    job,
    { ...settings, shell: override?.shell },
    {
      executor: provider,
      layout: {
        ...layout,
        buildsDir: override?.buildsDir ?? layout.buildsDir,
        sharedBuildsDir: override?.sharedBuildsDir ?? layout.sharedBuildsDir,
      },
    },
  );
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
  return { result, log, runnerLog };
}

const lines = (file: string) =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .trim()
        .split("\n")
        .map((l) => l.trim())
    : [];

describe("custom executor jobs", () => {
  test('config_exec\'s hostname is printed by prepare_script as "Running on <host> via <hostname>..."', async () => {
    const config = driver(`echo '{"hostname":"vm-7 \\"x\\" $HOME","driver":{"name":"d","version":"v2"}}'`);
    const { result, log } = await runCustomJob(dockerPayload({ steps: script(["true"]) }, 11), {
      config_exec: config,
      run_exec: localRun(),
    });
    expect(result.state).toBe("success");
    expect(log).toContain("Using Custom executor with driver d v2...");
    // $(hostname) runs where the driver runs the script (here: this host); the name is literal.
    expect(log).toContain(`Running on ${hostname()} via vm-7 "x" $HOME...\n`);
  }, 60_000);

  test('without a hostname (or an empty one) the line has no "via", as GitLab\'s', async () => {
    for (const out of ["{}", '{"hostname":""}']) {
      const { log } = await runCustomJob(dockerPayload({ steps: script(["true"]) }, 12), {
        config_exec: driver(`echo '${out}'`),
        run_exec: localRun(),
      });
      expect(log).toContain(`Running on ${hostname()}...\n`);
      expect(log).not.toContain(" via ");
    }
  }, 60_000);

  test("JOB_RESPONSE_FILE: the job payload (token included), 0600, in every driver call, removed after cleanup", async () => {
    const calls = join(dir, "response-calls");
    const saw = (name: string) =>
      record(
        calls,
        `${name} $(stat -c %a "$JOB_RESPONSE_FILE") $(jq -r '.id, .token, .job_info.name' "$JOB_RESPONSE_FILE" | tr '\\n' ' ')`,
      );
    const where = join(dir, "response-path");
    const { result } = await runCustomJob(dockerPayload({ steps: script(["true"]) }, 13), {
      config_exec: driver(`${saw("config")}\necho "$JOB_RESPONSE_FILE" > ${where}`),
      prepare_exec: driver(saw("prepare")),
      run_exec: localRun(`${saw("run:$2")}`),
      cleanup_exec: driver(saw("cleanup")),
    });
    expect(result.state).toBe("success");
    const each = (name: string) => `${name} 600 13 job-token-123 test`;
    expect(lines(calls)).toEqual([
      each("config"),
      each("prepare"),
      each("run:prepare_script"),
      each("run:get_sources"),
      each("run:build_script"),
      each("run:cleanup_file_variables"),
      each("cleanup"),
    ]);
    const file = readFileSync(where, "utf8").trim();
    expect(file.endsWith("/response.json")).toBe(true);
    expect(existsSync(file)).toBe(false);
  }, 60_000);

  test("config_exec's shell decides the shell the job's scripts are written for", async () => {
    const seen = join(dir, "shell-seen");
    const run = localRun(record(seen, "$(basename $1)"));
    const { result } = await runCustomJob(dockerPayload({ steps: script(["true"]) }, 14), {
      config_exec: driver(`echo '{"shell":"sh"}'`),
      run_exec: run,
    });
    expect(result.state).toBe("success");
    // prepare_script, get_sources, build_script, cleanup_file_variables.
    expect(lines(seen)).toEqual(["script.sh", "script.sh", "script.sh", "script.sh"]);
  }, 60_000);

  test("config_exec naming a shell runmesh cannot write is a configuration error naming config_exec", async () => {
    const { result } = await runCustomJob(dockerPayload({ steps: script(["true"]) }, 15), {
      config_exec: driver(`echo '{"shell":"pwsh"}'`),
      run_exec: localRun(),
    });
    expect(result.failureReason).toBe("runner_configuration_error");
    expect(result.message).toContain('[runners.custom] config_exec: shell "pwsh"');
  }, 60_000);

  test("prepare_exec exiting with BUILD_FAILURE_EXIT_CODE fails the job as a script failure, without a retry", async () => {
    const calls = join(dir, "build-failure-calls");
    const { result, log } = await runCustomJob(dockerPayload({ steps: script(["true"]) }, 16), {
      config_exec: driver(record(calls, "config")),
      prepare_exec: driver(`${record(calls, "prepare")}\nexit "$BUILD_FAILURE_EXIT_CODE"`),
      run_exec: localRun(record(calls, "run")),
      cleanup_exec: driver(record(calls, "cleanup")),
    });
    expect([result.state, result.failureReason, result.exitCode]).toEqual(["failed", "script_failure", 1]);
    expect(lines(calls)).toEqual(["config", "prepare", "cleanup"]);
    expect(log).not.toContain("Preparation failed");
  }, 60_000);

  test("prepare_exec exiting with SYSTEM_FAILURE_EXIT_CODE is retried; each attempt cleaned up, config_exec again", async () => {
    const calls = join(dir, "system-failure-calls");
    const { result, log } = await runCustomJob(dockerPayload({ steps: script(["true"]) }, 17), {
      config_exec: driver(record(calls, "config")),
      prepare_exec: driver(`${record(calls, "prepare")}\nexit "$SYSTEM_FAILURE_EXIT_CODE"`),
      run_exec: localRun(record(calls, "run")),
      cleanup_exec: driver(record(calls, "cleanup")),
    });
    expect([result.state, result.failureReason]).toEqual(["failed", "runner_system_failure"]);
    expect(lines(calls)).toEqual(Array.from({ length: 3 }, () => ["config", "prepare", "cleanup"]).flat());
    expect(log.match(/Preparation failed: /g)?.length).toBe(2);
  }, 60_000);

  test("a prepare_exec that fails once then succeeds runs the job after cleanup_exec and config_exec again", async () => {
    const calls = join(dir, "flaky-calls");
    const flag = join(dir, "flaky-flag");
    const { result } = await runCustomJob(dockerPayload({ steps: script(["echo ran"]) }, 18), {
      config_exec: driver(record(calls, "config")),
      prepare_exec: driver(
        `${record(calls, "prepare")}\n[ -e ${flag} ] || { touch ${flag}; exit "$SYSTEM_FAILURE_EXIT_CODE"; }`,
      ),
      run_exec: localRun(record(calls, "run:$2")),
      cleanup_exec: driver(record(calls, "cleanup")),
    });
    expect(result.state).toBe("success");
    expect(lines(calls)).toEqual([
      "config",
      "prepare",
      "cleanup",
      "config",
      "prepare",
      "run:prepare_script",
      "run:get_sources",
      "run:build_script",
      "run:cleanup_file_variables",
      "cleanup",
    ]);
  }, 60_000);

  test("cleanup_exec's output goes to the runner's log (stdout debug, stderr warning), never the job log", async () => {
    const { result, log, runnerLog } = await runCustomJob(dockerPayload({ steps: script(["true"]) }, 19), {
      run_exec: localRun(),
      cleanup_exec: driver('echo "cleanup-stdout-line"; echo "cleanup-stderr-line" >&2; exit 3'),
    });
    expect(result.state).toBe("success");
    expect(log).not.toContain("cleanup-std");
    const events = runnerLog
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { level: string; msg: string; cleanup_std?: string });
    expect(events.find((e) => e.msg === "cleanup-stdout-line")).toMatchObject({
      level: "debug",
      cleanup_std: "out",
    });
    expect(events.find((e) => e.msg === "cleanup-stderr-line")).toMatchObject({
      level: "warn",
      cleanup_std: "err",
    });
    expect(events.find((e) => e.msg.startsWith("Cleanup script failed"))).toMatchObject({
      level: "warn",
      msg: "Cleanup script failed: exit status 3",
    });
    // The build_script hand-over is announced in the runner's log, as GitLab does.
    expect(
      events.some((e) => e.level === "warn" && e.msg.includes("'build_script' stage will be replaced")),
    ).toBe(true);
  }, 60_000);

  test("a driver that skips the transfer stages is told apart from an empty result: the cache warns, naming the stage", async () => {
    const { result, log } = await runCustomJob(
      dockerPayload(
        {
          steps: script(["mkdir -p .deps && echo x > .deps/lib"]),
          cache: [{ key: "skipped", paths: [".deps"], policy: "push", when: "on_success" }],
        },
        20,
      ),
      { run_exec: localRun('case "$2" in workspace_*) exit 0;; esac') },
    );
    // GitLab: a cache failure is a warning, the job goes on.
    expect(result.state).toBe("success");
    expect(log).toContain(
      'runner "custom-1": [runners.custom] run_exec for stage workspace_list exited 0 without running the transfer script',
    );
    expect(log).toContain("Failed to create cache");
  }, 60_000);

  test("a cache saved through run_exec is restored into a fresh builds dir by the next job", async () => {
    const cache = [{ key: "round-trip", paths: [".deps"], policy: "pull-push", when: "on_success" }];
    // A fresh builds dir per job (config_exec, the id from JOB_RESPONSE_FILE: this payload has no
    // CI_JOB_ID variable), so only the cache can carry the file over.
    const config = driver(`echo "{\\"builds_dir\\":\\"${dir}/fresh/$(jq .id "$JOB_RESPONSE_FILE")\\"}"`);
    const saved = await runCustomJob(
      dockerPayload(
        {
          steps: script(["mkdir -p .deps && echo saved-by-21 > .deps/lib && ln -s /etc/passwd .deps/out"]),
          cache,
        },
        21,
      ),
      { config_exec: config, run_exec: localRun() },
    );
    expect(saved.result.state).toBe("success");
    expect(saved.log).toContain("Created cache");
    // A symlink pointing out of the project dir on the driver's side is refused, as on shell.
    expect(saved.log).toContain(".deps/out: symlink points outside the project directory");
    const restored = await runCustomJob(
      dockerPayload({ steps: script(["cat .deps/lib", "test ! -e .deps/out"]), cache }, 22),
      {
        config_exec: config,
        run_exec: localRun(),
      },
    );
    expect(restored.result.state).toBe("success");
    expect(restored.log).toContain("Successfully extracted cache");
    expect(restored.log).toContain("saved-by-21\n");
  }, 60_000);
});
