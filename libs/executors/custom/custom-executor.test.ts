// The custom executor with small shell-script drivers written by the test: config_exec's JSON
// moves builds_dir and names the driver, run_exec gets the script and stage name per stage with
// the protocol's environment, exit codes map as GitLab's, cleanup_exec always runs, timeouts and
// cancel stop the driver's whole process group.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExecutorError, type PrepareContext } from "../executor.ts";
import { CustomExecutor, type CustomSettings } from "./custom-executor.ts";

const dir = mkdtempSync(join(tmpdir(), "runmesh-custom-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const never = new AbortController().signal;
let n = 0;

/** A driver script in the test's dir. */
function driver(body: string): string {
  const path = join(dir, `driver-${++n}.sh`);
  writeFileSync(path, `#!/bin/bash\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** run_exec that runs the stage script locally, as GitLab's documented example driver does. */
const localRun = () =>
  driver(
    `bash "$1" || { code=$?; echo "$code" > "$BUILD_EXIT_CODE_FILE"; exit "$BUILD_FAILURE_EXIT_CODE"; }`,
  );

function settings(over: Partial<CustomSettings>): CustomSettings {
  return {
    config_exec_timeout: 3600,
    prepare_exec_timeout: 3600,
    cleanup_exec_timeout: 3600,
    graceful_kill_timeout: 600,
    force_kill_timeout: 600,
    ...over,
  };
}

function prepareCtx(lines: string[], over: Partial<PrepareContext> = {}): PrepareContext {
  return {
    buildsDir: join(dir, "builds"),
    projectDir: join(dir, "builds", "p"),
    shell: "bash",
    log: (l) => lines.push(l),
    signal: never,
    jobId: 1,
    variables: [
      { key: "CI_JOB_ID", value: "1" },
      { key: "MY_VAR", value: "my value" },
    ],
    ...over,
  };
}

function collect() {
  let out = "";
  return {
    io: { onOutput: (c: Uint8Array) => (out += new TextDecoder().decode(c)) },
    text: () => out,
  };
}

const stage = (script: string, name = "step_script") => ({
  stage: name,
  kind: "user" as const,
  script,
  shell: "bash" as const,
});

const gone = async (pattern: string) => {
  for (let i = 0; i < 50; i++) {
    if (spawnSync("pgrep", ["-f", pattern]).status !== 0) return true;
    await Bun.sleep(100);
  }
  return false;
};

describe("CustomExecutor", () => {
  test("config_exec's JSON moves builds_dir, names the driver and adds job_env to later calls", async () => {
    const config = driver(
      `echo "configuring" >&2; echo '{"builds_dir":"/custom/builds","cache_dir":"/custom/cache","builds_dir_is_shared":true,"driver":{"name":"test driver","version":"v0.0.1"},"job_env":{"FROM_CONFIG":"yes"}}'`,
    );
    const e = new CustomExecutor({
      settings: settings({ config_exec: config, run_exec: localRun() }),
      runnerName: "c1",
    });
    const override = await e.configure({ jobId: 1, variables: [], signal: never });
    expect(override).toEqual({
      buildsDir: "/custom/builds",
      cacheDir: "/custom/cache",
      sharedBuildsDir: true,
    });
    const lines: string[] = [];
    await e.prepare(prepareCtx(lines, { buildsDir: "/custom/builds" }));
    expect(lines).toEqual(["configuring", "Using Custom executor with driver test driver v0.0.1..."]);
    const out = collect();
    await e.run(stage('echo "job_env=$FROM_CONFIG"'), out.io, never);
    // job_env reaches the driver; the stage script here runs in the driver's environment.
    expect(out.text()).toBe("job_env=yes\n");
    await e.cleanup();
  });

  test("config_exec gets its args; an unparsable output fails prepare, naming config_exec", async () => {
    const config = driver(`echo "args=$*" >&2; echo 'not json'`);
    const e = new CustomExecutor({
      settings: settings({ config_exec: config, config_args: ["a", "b c"], run_exec: localRun() }),
      runnerName: "c1",
    });
    await e.configure({ jobId: 1, variables: [], signal: never }).catch(() => {});
    const lines: string[] = [];
    const err = await e.prepare(prepareCtx(lines)).catch((x) => x);
    expect(lines).toEqual(["args=a b c"]);
    expect(err).toBeInstanceOf(ExecutorError);
    expect(err.message).toContain(
      'runner "c1": [runners.custom] config_exec: error while parsing JSON output',
    );
    await e.cleanup();
  });

  test("run_exec is called per stage with the script path and the stage name, in the protocol's environment", async () => {
    const run = driver(
      [
        // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion, not a template
        'script="${@: -2:1}"',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion, not a template
        'echo "first=$1 stage=${*: -1} script=$(basename "$script") exists=$([ -x "$script" ] && echo y)"',
        'echo "codes=$BUILD_FAILURE_EXIT_CODE/$SYSTEM_FAILURE_EXIT_CODE var=$CUSTOM_ENV_MY_VAR id=$CUSTOM_ENV_CI_JOB_ID"',
        'echo "tmp=$([ "$PWD" = "$TMPDIR" ] && echo cwd) stage_env=$STAGE_ENV"',
        'bash "$script"',
      ].join("\n"),
    );
    const e = new CustomExecutor({
      settings: settings({ run_exec: run, run_args: ["--flag"] }),
      runnerName: "c1",
    });
    await e.prepare(prepareCtx([]));
    const seen: string[] = [];
    for (const name of ["prepare_script", "step_script"]) {
      const out = collect();
      const r = await e.run({ ...stage("echo from-script", name), env: { STAGE_ENV: "s" } }, out.io, never);
      expect(r).toEqual({ exitCode: 0, aborted: false });
      seen.push(out.text());
    }
    // step_script reaches the driver as build_script, as GitLab Runner still hands it over.
    expect(seen).toEqual(
      ["prepare_script", "build_script"].map(
        (name) =>
          `first=--flag stage=${name} script=script.bash exists=y\ncodes=1/2 var=my value id=1\ntmp=cwd stage_env=s\nfrom-script\n`,
      ),
    );
    await e.cleanup();
  });

  test("BUILD_FAILURE_EXIT_CODE is a script failure with the code from BUILD_EXIT_CODE_FILE", async () => {
    const e = new CustomExecutor({ settings: settings({ run_exec: localRun() }), runnerName: "c1" });
    await e.prepare(prepareCtx([]));
    expect(await e.run(stage("exit 42"), collect().io, never)).toEqual({ exitCode: 42, aborted: false });
    await e.cleanup();
  });

  test("BUILD_FAILURE_EXIT_CODE without a file is exit code 1", async () => {
    const e = new CustomExecutor({
      settings: settings({ run_exec: driver('exit "$BUILD_FAILURE_EXIT_CODE"') }),
      runnerName: "c1",
    });
    await e.prepare(prepareCtx([]));
    expect(await e.run(stage("true"), collect().io, never)).toEqual({ exitCode: 1, aborted: false });
    await e.cleanup();
  });

  test.each([
    ['exit "$SYSTEM_FAILURE_EXIT_CODE"', "exited with SYSTEM_FAILURE_EXIT_CODE (2)"],
    ["exit 7", "unknown Custom executor executable exit code 7"],
  ])("run_exec `%s` is a system failure: %s", async (body, message) => {
    const e = new CustomExecutor({ settings: settings({ run_exec: driver(body) }), runnerName: "c1" });
    await e.prepare(prepareCtx([]));
    const err = await e.run(stage("true"), collect().io, never).catch((x) => x);
    expect(err).toBeInstanceOf(ExecutorError);
    expect(err.failureReason).toBe("runner_system_failure");
    expect(err.message).toContain(message);
    expect(err.message).toContain("step_script");
    await e.cleanup();
  });

  test("prepare_exec gets its args, its output reaches the job log, a failure fails prepare", async () => {
    const lines: string[] = [];
    const e = new CustomExecutor({
      settings: settings({
        run_exec: localRun(),
        prepare_exec: driver(
          'echo "preparing $1 for $CUSTOM_ENV_CI_JOB_ID"; exit "$SYSTEM_FAILURE_EXIT_CODE"',
        ),
        prepare_args: ["vm-1"],
      }),
      runnerName: "c1",
    });
    const err = await e.prepare(prepareCtx(lines)).catch((x) => x);
    expect(lines).toEqual(["Using Custom executor...", "preparing vm-1 for 1"]);
    expect(err.message).toContain("[runners.custom] prepare_exec: exited with SYSTEM_FAILURE_EXIT_CODE (2)");
    await e.cleanup();
  });

  test("prepare_exec_timeout stops the driver and its children", async () => {
    const marker = `runmesh-custom-prep-${process.pid}`;
    const e = new CustomExecutor({
      settings: settings({
        run_exec: localRun(),
        prepare_exec: driver(`(exec -a ${marker} sleep 300) & wait`),
        prepare_exec_timeout: 1,
        graceful_kill_timeout: 5,
      }),
      runnerName: "c1",
    });
    const err = await e.prepare(prepareCtx([])).catch((x) => x);
    expect(err.message).toContain("prepare_exec: did not finish within prepare_exec_timeout (1 s)");
    expect(await gone(marker)).toBe(true);
    await e.cleanup();
  });

  test("cleanup_exec always runs, with its args, even after a failed prepare", async () => {
    const marker = join(dir, "cleaned");
    const e = new CustomExecutor({
      settings: settings({
        run_exec: localRun(),
        prepare_exec: driver('exit "$BUILD_FAILURE_EXIT_CODE"'),
        cleanup_exec: driver(`echo "$1 $CUSTOM_ENV_MY_VAR" > ${marker}`),
        cleanup_args: ["cleanup-arg"],
      }),
      runnerName: "c1",
    });
    await e.prepare(prepareCtx([])).catch(() => {});
    await e.cleanup();
    expect(readFileSync(marker, "utf8")).toBe("cleanup-arg my value\n");
  });

  test("a cancel sends SIGTERM to the driver's group; one that ignores it is killed after graceful_kill_timeout", async () => {
    const marker = `runmesh-custom-cancel-${process.pid}`;
    const e = new CustomExecutor({
      settings: settings({
        run_exec: driver(`trap '' TERM; (trap '' TERM; exec -a ${marker} sleep 300) & echo started; wait`),
        graceful_kill_timeout: 1,
        force_kill_timeout: 5,
      }),
      runnerName: "c1",
    });
    await e.prepare(prepareCtx([]));
    const abort = new AbortController();
    let out = "";
    const r = await e.run(
      stage("true"),
      {
        onOutput: (c) => {
          out += new TextDecoder().decode(c);
          if (out.includes("started")) abort.abort();
        },
      },
      abort.signal,
    );
    expect(r.aborted).toBe(true);
    expect(await gone(marker)).toBe(true);
    await e.cleanup();
  });

  test("a driver that exits on SIGTERM ends the stage as aborted at once", async () => {
    const e = new CustomExecutor({
      settings: settings({ run_exec: driver("echo started; sleep 300 & wait"), graceful_kill_timeout: 600 }),
      runnerName: "c1",
    });
    await e.prepare(prepareCtx([]));
    const abort = new AbortController();
    const r = await e.run(
      stage("true"),
      { onOutput: (c) => new TextDecoder().decode(c).includes("started") && abort.abort() },
      abort.signal,
    );
    expect(r.aborted).toBe(true);
    await e.cleanup();
  });

  test("a runner entry without run_exec is a configuration error", async () => {
    const e = new CustomExecutor({ settings: settings({}), runnerName: "c1" });
    const err = await e.prepare(prepareCtx([])).catch((x) => x);
    expect(err.failureReason).toBe("runner_configuration_error");
    expect(err.message).toContain('runner "c1": [runners.custom] run_exec: missing');
  });

  test("no builds_dir from the entry or config_exec is a configuration error", async () => {
    const e = new CustomExecutor({ settings: settings({ run_exec: localRun() }), runnerName: "c1" });
    const err = await e.prepare(prepareCtx([], { buildsDir: "" })).catch((x) => x);
    expect(err.failureReason).toBe("runner_configuration_error");
    expect(err.message).toContain("the builds_dir is not configured");
  });

  test("the job's temp dir is removed by cleanup", async () => {
    const run = driver('echo "$TMPDIR"');
    const e = new CustomExecutor({ settings: settings({ run_exec: run }), runnerName: "c1" });
    await e.prepare(prepareCtx([]));
    const out = collect();
    await e.run(stage("true"), out.io, never);
    const tmp = out.text().trim();
    expect(existsSync(tmp)).toBe(true);
    await e.cleanup();
    expect(existsSync(tmp)).toBe(false);
  });
});
