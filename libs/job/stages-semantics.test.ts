// Issue 3 semantics through runJob with the real ShellExecutor: get_sources from a real git HTTP
// server (job-token basic auth), stage attempts, GIT_CLONE_PATH, pre/post build scripts, debug
// trace, escaping, the job's environment, stream separation.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFixtureRepos, type FixtureRepos } from "../../tests/infra/git-fixtures.ts";
import { type GitHttpServer, startGitHttpServer } from "../../tests/infra/git-http-server.ts";
import { shellProvider } from "../executors/shell/provider.ts";
import { minimalJobEnv, ShellExecutor } from "../executors/shell/shell-executor.ts";
import { planJob } from "./job-plan.ts";
import { type JobPayload, parseJobPayload } from "./payload.ts";
import { runJob } from "./run-job.ts";
import type { RunnerSettings } from "./runner-settings.ts";

const TOKEN = "glcbt-64_semantics-job-token";
const root = mkdtempSync(join(tmpdir(), "runmesh-semantics-"));
let fx: FixtureRepos;
let server: GitHttpServer;
let gitConfigGlobal: string;
let n = 0;

beforeAll(async () => {
  fx = await createFixtureRepos(join(root, "fixtures"));
  server = await startGitHttpServer({ root: fx.root, token: TOKEN });
  gitConfigGlobal = join(root, "gitconfig");
  await writeFile(
    gitConfigGlobal,
    '[filter "lfs"]\n\tclean = git-lfs clean -- %f\n\tsmudge = git-lfs smudge -- %f\n\tprocess = git-lfs filter-process\n\trequired = true\n',
  );
});
afterAll(async () => {
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

const steps = (script: string[], after?: string[]) => [
  { name: "script", script, when: "on_success" },
  ...(after ? [{ name: "after_script", script: after, when: "always" }] : []),
];

function payload(over: Record<string, unknown> = {}, variables: { key: string; value: string }[] = []) {
  const parsed = parseJobPayload(
    JSON.stringify({
      id: 7,
      token: TOKEN,
      job_info: { name: "t", project_id: 3, project_full_path: "group/project" },
      git_info: {
        repo_url: `http://gitlab-ci-token:${TOKEN}@127.0.0.1:${server.port}/group/project.git`,
        ref: "main",
        sha: fx.head,
        refspecs: ["+refs/heads/main:refs/remotes/origin/main"],
        depth: 1,
      },
      runner_info: { timeout: 600 },
      features: { trace_sections: true },
      variables: [{ key: "GIT_STRATEGY", value: "none" }, ...variables],
      steps: steps(["echo job-ran"]),
      ...over,
    }),
  );
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.job;
}

/** The job planned for the shell executor, as a worker plans it. */
function shellPlan(job: JobPayload, settings: RunnerSettings, workerBuildsDir: string) {
  return planJob(job, settings, {
    executor: shellProvider,
    layout: shellProvider.layout({
      buildsDir: settings.builds_dir,
      cacheDir: settings.cache_dir,
      workerBuildsDir,
      workerCacheDir: `${workerBuildsDir}-cache`,
    }),
  });
}

async function run(
  job: ReturnType<typeof payload>,
  settings: Partial<RunnerSettings> = {},
  o: { onLog?: (log: string, c: { cancel(): void }) => void; env?: Record<string, string> } = {},
) {
  const decoder = new TextDecoder();
  let log = "";
  const streams = { stdout: "", stderr: "" };
  let ends = 0;
  const cancel = new AbortController();
  const buildsDir = join(root, `builds-${++n}`);
  const append = (b: Uint8Array) => {
    log += decoder.decode(b);
    o.onLog?.(log, { cancel: () => cancel.abort() });
  };
  const delays: [number, boolean][] = [];
  const result = await runJob({
    plan: shellPlan(
      job,
      {
        name: "r1",
        short_token: "shorttok1",
        executor: "shell",
        shell: "bash",
        url: server.url,
        ...settings,
      },
      buildsDir,
    ),
    executor: new ShellExecutor({
      loginShell: false,
      baseEnv: { ...minimalJobEnv(), GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: gitConfigGlobal, ...o.env },
    }),
    log: {
      runner: append,
      output: (stream, b) => {
        streams[stream] += decoder.decode(b);
        append(b);
      },
      endOutput: () => {
        ends++;
      },
    },
    cancelSignal: cancel.signal,
    abortSignal: new AbortController().signal,
    systemId: "s_000000000001",
    version: "1.2.3",
    revision: "deadbeef",
    stageRetryDelayMs: (retry, exponential) => {
      delays.push([retry, exponential]);
      return 0;
    },
  });
  return { result, log, streams, ends, buildsDir, delays };
}

const count = (text: string, part: string) => text.split(part).length - 1;

describe("get_sources from a real git server", () => {
  test("clone with job-token auth, a shallow fetch and a relative-URL submodule, recursively", async () => {
    const { result, log } = await run(
      payload(
        { steps: steps(["git rev-parse HEAD", "cat sub/sub.txt", "git rev-parse --is-shallow-repository"]) },
        [
          { key: "GIT_STRATEGY", value: "clone" },
          { key: "GIT_SUBMODULE_STRATEGY", value: "recursive" },
        ],
      ),
    );
    expect(result.state).toBe("success");
    expect(log).toContain("Fetching changes with git depth set to 1...");
    expect(log).toContain("Updating/initializing submodules recursively with git depth set to 1...");
    expect(log).toContain(`${fx.head}\n`);
    expect(log).toContain("$ git rev-parse --is-shallow-repository\x1b[0;m\ntrue\n");
    // The job token never shows in the log (the remote has no credentials).
    expect(log).not.toContain(TOKEN);
    expect(server.requests.some((r) => r.includes("/group/sub.git/"))).toBe(true);
  });

  test("a bad GIT_STRATEGY warns and falls back to the payload's default", async () => {
    const { result, log } = await run(payload({}, [{ key: "GIT_STRATEGY", value: "copy" }]));
    expect(result.state).toBe("success");
    expect(log).toContain(
      `WARNING: GIT_STRATEGY: expected either 'clone', 'fetch', 'none' or 'empty' got "copy", using default value 'clone'`,
    );
    expect(log).toContain("Created fresh repository.");
  });

  test("runner and job pre/post get_sources scripts run around the fetch, in GitLab's order", async () => {
    const { log } = await run(
      payload(
        {
          hooks: [
            { name: "pre_get_sources_script", script: ["echo hook-pre"] },
            { name: "post_get_sources_script", script: ["echo hook-post"] },
          ],
        },
        [{ key: "GIT_STRATEGY", value: "fetch" }],
      ),
      { pre_get_sources_script: "echo runner-pre", post_get_sources_script: "echo runner-post" },
    );
    const order = ["runner-pre\n", "hook-pre\n", "Fetching changes", "hook-post\n", "runner-post\n"].map(
      (s) => log.indexOf(s),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  test("GET_SOURCES_ATTEMPTS retries with backoff and clears the worktree once before the 2nd try", async () => {
    const job = payload({ token: "wrong-token" }, [
      { key: "GIT_STRATEGY", value: "fetch" },
      { key: "GET_SOURCES_ATTEMPTS", value: "3" },
    ]);
    job.git_info.repo_url = `http://gitlab-ci-token:wrong-token@127.0.0.1:${server.port}/group/project.git`;
    const { result, log, delays } = await run(job);
    expect(result.state).toBe("failed");
    expect(result.failureReason).toBe("script_failure");
    expect(count(log, "Getting source from Git repository")).toBe(3);
    expect(count(log, "Deleting all tracked and untracked files due to source fetch failure")).toBe(1);
    expect(log.indexOf("clear_worktree")).toBeGreaterThan(log.indexOf("get_sources"));
    expect(delays).toEqual([
      [0, true],
      [1, true],
    ]);
    expect(count(log, "Retrying in 0ms")).toBe(2);
    expect(log).not.toContain("job-ran\n");
  });

  test("attempt variables are clamped to [1, 10] or fall back to 1, with warnings", async () => {
    const job = payload({}, [
      { key: "GET_SOURCES_ATTEMPTS", value: "20" },
      { key: "RESTORE_CACHE_ATTEMPTS", value: "0" },
      { key: "ARTIFACT_DOWNLOAD_ATTEMPTS", value: "two" },
    ]);
    const { log, delays } = await run(job, {
      feature_flags: { FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY: false },
    });
    expect(log).toContain(
      "GET_SOURCES_ATTEMPTS: number of attempts out of the range [1, 10], clamping to: 10",
    );
    expect(log).toContain(
      "RESTORE_CACHE_ATTEMPTS: number of attempts out of the range [1, 10], clamping to: 1",
    );
    expect(log).toContain('ARTIFACT_DOWNLOAD_ATTEMPTS: expected int got "two", using default value: 1');
    expect(log).toContain("  feature flags: FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY:false\x1b[0;m\n");
    expect(delays).toEqual([]);
  });
});

describe("GIT_CLONE_PATH and the builds directory", () => {
  test("without [runners.custom_build_dir] enabled it is a configuration error", async () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: GitLab variable syntax
    const { result, log } = await run(payload({}, [{ key: "GIT_CLONE_PATH", value: "${CI_BUILDS_DIR}/x" }]));
    expect(result.failureReason).toBe("runner_configuration_error");
    expect(result.message).toBe("setting GIT_CLONE_PATH is not allowed, enable `custom_build_dir` feature");
    expect(log).not.toContain("job-ran");
  });

  test("when enabled, the project lives there; outside builds_dir is refused", async () => {
    const inside = await run(
      payload({ steps: steps(['echo "pwd=$(pwd) dir=$CI_PROJECT_DIR"']) }, [
        { key: "GIT_CLONE_PATH", value: "$CI_BUILDS_DIR/$CI_CONCURRENT_ID/mine" },
      ]),
      { custom_build_dir: { enabled: true } },
    );
    expect(inside.result.state).toBe("success");
    expect(inside.log).toContain(`pwd=${inside.buildsDir}/0/mine dir=${inside.buildsDir}/0/mine\n`);
    const outside = await run(payload({}, [{ key: "GIT_CLONE_PATH", value: "/tmp/elsewhere" }]), {
      custom_build_dir: { enabled: true },
    });
    expect(outside.result.failureReason).toBe("runner_configuration_error");
    expect(outside.result.message).toContain('the GIT_CLONE_PATH="/tmp/elsewhere" has to be within');
  });
});

describe("scripts", () => {
  test("pre_build_script and post_build_script wrap the step's own lines", async () => {
    const { log } = await run(payload({ steps: steps(["echo middle"]) }), {
      pre_build_script: "echo before-all",
      post_build_script: "echo after-all",
    });
    const i = ["$ echo before-all", "$ echo middle", "$ echo after-all"].map((s) => log.indexOf(s));
    expect(i.every((x) => x >= 0)).toBe(true);
    expect([...i].sort((a, b) => a - b)).toEqual(i);
  });

  test("CI_DEBUG_TRACE turns on xtrace; debug_trace_disabled turns it off with GitLab's warning", async () => {
    const job = payload({ steps: steps(["true marker-command"]) }, [
      { key: "CI_DEBUG_TRACE", value: "true" },
    ]);
    const on = await run(job);
    expect(on.streams.stderr).toContain("+ true marker-command");
    const off = await run(job, { debug_trace_disabled: true });
    expect(off.streams.stderr).not.toContain("+ true marker-command");
    expect(off.log).toContain("WARNING: CI_DEBUG_TRACE: usage is disabled on this Runner");
  });

  test.each([false, true])(
    "values survive quoting with FF_POSIXLY_CORRECT_ESCAPES=%p, in bash and sh",
    async (posix) => {
      const tricky = `it's "q" $(x) \`y\` \\n tab\there\nline2 é`;
      for (const shell of ["bash", "sh"]) {
        const { result, streams } = await run(
          payload({ steps: steps(['printf "<%s>" "$TRICKY"']) }, [
            { key: "TRICKY", value: tricky },
            { key: "FF_POSIXLY_CORRECT_ESCAPES", value: String(posix) },
          ]),
          { shell },
        );
        expect(result.state).toBe("success");
        expect(streams.stdout).toContain(`<${tricky}>`);
      }
    },
  );

  test("script output keeps its streams and each stage ends its output", async () => {
    const { streams, ends } = await run(payload({ steps: steps(["echo to-out", "echo to-err >&2"]) }));
    expect(streams.stdout).toContain("to-out\n");
    expect(streams.stdout).not.toContain("\nto-err\n");
    expect(streams.stderr).toContain("to-err\n");
    // prepare_script, get_sources, step_script
    expect(ends).toBeGreaterThanOrEqual(3);
  });

  test("the job cannot read the worker's environment", async () => {
    process.env.RUNMESH_TEST_SECRET = "nats-password-123";
    try {
      const job = payload({
        // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax under test
        steps: steps(['echo "secret=${RUNMESH_TEST_SECRET:-unset} path=${PATH:+set}"']),
      });
      const decoder = new TextDecoder();
      let log = "";
      const sink = (b: Uint8Array) => {
        log += decoder.decode(b);
      };
      const result = await runJob({
        plan: shellPlan(
          job,
          { name: "r", short_token: "tok", executor: "shell", shell: "bash" },
          join(root, `env-${++n}`),
        ),
        executor: new ShellExecutor({ loginShell: false }),
        log: { runner: sink, output: (_s, b) => sink(b), endOutput: () => {} },
        cancelSignal: new AbortController().signal,
        abortSignal: new AbortController().signal,
        systemId: "s",
        version: "1",
        revision: "dev",
      });
      expect(result.state).toBe("success");
      expect(log).toContain("secret=unset path=set\n");
      expect(log).not.toContain("nats-password-123");
    } finally {
      delete process.env.RUNMESH_TEST_SECRET;
    }
  });

  test("predefined runner variables", async () => {
    const { log } = await run(
      payload({
        steps: steps([
          'echo "arch=$CI_RUNNER_EXECUTABLE_ARCH v=$CI_RUNNER_VERSION r=$CI_RUNNER_REVISION t=$CI_RUNNER_SHORT_TOKEN"',
          'echo "shared=$CI_SHARED_ENVIRONMENT timeout=$CI_JOB_TIMEOUT ff=$FF_TIMESTAMPS env=$FROM_CONFIG"',
        ]),
      }),
      { environment: ["FROM_CONFIG=cfg"] },
    );
    expect(log).toMatch(/arch=linux\/\w+ v=1\.2\.3 r=deadbeef t=shorttok1\n/);
    expect(log).toContain("shared=true timeout=600 ff=true env=cfg\n");
  });
});

describe("time and cancel", () => {
  test("malformed, relative and too-long script timeouts warn as GitLab does", async () => {
    const { log, result } = await run(
      payload({}, [
        { key: "RUNNER_SCRIPT_TIMEOUT", value: "soon" },
        { key: "RUNNER_AFTER_SCRIPT_TIMEOUT", value: "-1m" },
      ]),
    );
    expect(result.state).toBe("success");
    expect(log).toContain("WARNING: Ignoring malformed RUNNER_SCRIPT_TIMEOUT timeout: soon");
    expect(log).toContain("WARNING: Ignoring relative RUNNER_AFTER_SCRIPT_TIMEOUT timeout: -1m");
    const long = await run(payload({}, [{ key: "RUNNER_SCRIPT_TIMEOUT", value: "3h" }]));
    expect(long.log).toContain(
      "RUNNER_SCRIPT_TIMEOUT timeout: 3h is longer than job timeout. Setting to job timeout",
    );
  });

  test("a graceful cancel is reported as GitLab does: a warning, then 'Job failed: canceled'", async () => {
    const { result, log } = await run(
      payload({ steps: steps(["echo started", "sleep 30"], ["echo after=$CI_JOB_STATUS"]) }),
      {},
      { onLog: (text, c) => text.includes("started\n") && c.cancel() },
    );
    expect(result).toMatchObject({ state: "failed", failureReason: "job_canceled", message: "canceled" });
    expect(log).toContain("WARNING: script canceled externally (UI, API)");
    expect(log).toContain("after=canceled\n");
    expect(log).toContain("ERROR: Job failed: canceled");
  });

  test("a cancel before the user script stops the whole job (no after_script)", async () => {
    const { result, log } = await run(
      payload({ steps: steps(["echo never"], ["echo after-ran"]) }, [
        { key: "GIT_STRATEGY", value: "fetch" },
      ]),
      { pre_get_sources_script: "echo in-get-sources; sleep 30" },
      { onLog: (text, c) => text.includes("in-get-sources\n") && c.cancel() },
    );
    expect(result.failureReason).toBe("job_canceled");
    expect(log).not.toContain("after-ran\n");
    expect(log).not.toContain("never\n");
  });
});
