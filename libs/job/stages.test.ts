// The stage machine against the real shell executor: real bash processes, real git.
import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { Executor } from "../executors/executor.ts";
import { shellProvider } from "../executors/shell/provider.ts";
import { ShellExecutor, type ShellExecutorOptions } from "../executors/shell/shell-executor.ts";
import { planJob } from "./job-plan.ts";
import { type JobPayload, parseJobPayload } from "./payload.ts";
import { type RunJobOptions, runJob } from "./run-job.ts";
import type { RunnerSettings } from "./runner-settings.ts";

const root = mkdtempSync(join(tmpdir(), "runmesh-stages-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function freshDir(name: string): string {
  return join(root, `${name}-${++counter}`);
}

function payload(overrides: Record<string, unknown>) {
  const parsed = parseJobPayload(
    JSON.stringify({
      id: 42,
      token: "job-token-123",
      allow_git_fetch: false,
      job_info: { name: "test", project_id: 7, project_full_path: "group/project" },
      git_info: { repo_url: "https://gitlab-ci-token:job-token-123@gitlab.example.com/group/project.git" },
      runner_info: { timeout: 3600 },
      features: { trace_sections: true },
      variables: [{ key: "GIT_STRATEGY", value: "none" }],
      ...overrides,
    }),
  );
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.job;
}

const steps = (script: string[], after?: string[]) => [
  { name: "script", script, when: "on_success" },
  ...(after ? [{ name: "after_script", script: after, when: "always" }] : []),
];

interface RunOptions {
  settings?: Partial<RunnerSettings>;
  executor?: ShellExecutorOptions;
  onLog?: (text: string, controls: { cancel(): void; abort(): void }) => void;
  buildsDir?: string;
  /** Wraps the shell executor (to record its stages, or to hide that it is local). */
  wrap?: (e: ShellExecutor) => Executor;
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

async function run(job: ReturnType<typeof payload>, o: RunOptions = {}) {
  const cancel = new AbortController();
  const abort = new AbortController();
  const decoder = new TextDecoder();
  let log = "";
  const streams = { stdout: "", stderr: "" };
  let ends = 0;
  const append = (bytes: Uint8Array) => {
    log += decoder.decode(bytes);
    o.onLog?.(log, { cancel: () => cancel.abort(), abort: () => abort.abort() });
  };
  const buildsDir = o.buildsDir ?? freshDir("builds");
  const options: RunJobOptions = {
    plan: shellPlan(
      job,
      {
        name: "runner-1",
        short_token: "abcdefghi",
        executor: "shell",
        shell: "bash",
        ...o.settings,
      },
      buildsDir,
    ),
    executor: (o.wrap ?? ((e) => e))(new ShellExecutor({ loginShell: false, ...o.executor })),
    log: {
      runner: (bytes) => append(bytes),
      output: (stream, bytes) => {
        streams[stream] += decoder.decode(bytes);
        append(bytes);
      },
      endOutput: () => {
        ends++;
      },
    },
    cancelSignal: cancel.signal,
    abortSignal: abort.signal,
    systemId: "s_0123456789ab",
    version: "0.1.0",
    revision: "abcdef12",
    prepareRetryDelayMs: 10,
    stageRetryDelayMs: () => 0,
  };
  const result = await runJob(options);
  return { result, log, buildsDir, streams, ends };
}

/** Waits (boundedly) for a killed process to be gone: signal delivery is not instantaneous. */
async function waitGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && isAlive(pid); i++) await Bun.sleep(50);
  return !isAlive(pid);
}

/** A zombie (killed, not yet reaped by its new parent) counts as gone. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

describe("runJob with the shell executor", () => {
  test("a passing script succeeds, with GitLab's header, echoed commands and footer", async () => {
    const { result, log } = await run(payload({ steps: steps(["echo hello from the job"]) }));
    expect(result).toEqual({ state: "success", message: "Job succeeded" });
    expect(log).toStartWith("\x1b[0KRunning with runmesh 0.1.0 (abcdef12)\x1b[0;m\n");
    expect(log).toContain("\x1b[0K  on runner-1 abcdefghi, system ID: s_0123456789ab\x1b[0;m\n");
    expect(log).toMatch(/section_start:\d+:prepare_executor/);
    expect(log).toContain(
      'prepare_executor\r\x1b[0K\x1b[0K\x1b[36;1mPreparing the "shell" executor\x1b[0;m\x1b[0;m\n',
    );
    expect(log).toContain("\x1b[0KUsing Shell (bash) executor...\x1b[0;m\n");
    expect(log).toContain("Running on ");
    expect(log).toContain("\x1b[32;1m$ echo hello from the job\x1b[0;m\nhello from the job\n");
    expect(log).toMatch(/section_end:\d+:step_script/);
    // GitLab's cleanup stage runs on every job, printing nothing of its own.
    expect(log.replace(/section_(start|end):\d+:/g, "section_$1:T:")).toContain(
      "step_script\r\x1b[0Ksection_start:T:cleanup_file_variables\r\x1b[0K" +
        "\x1b[0K\x1b[36;1mCleaning up project directory and file based variables\x1b[0;m\x1b[0;m\n" +
        "section_end:T:cleanup_file_variables\r\x1b[0K\x1b[32;1mJob succeeded",
    );
    expect(log).toEndWith("\x1b[32;1mJob succeeded\x1b[0;m\n");
  });

  test("exit 3 fails the job with script_failure and exit code 3; after_script sees CI_JOB_STATUS=failed", async () => {
    const { result, log } = await run(
      payload({
        steps: steps(["echo before", "exit 3", "echo never"], ["echo after status=$CI_JOB_STATUS"]),
      }),
    );
    expect(result).toEqual({
      state: "failed",
      failureReason: "script_failure",
      exitCode: 3,
      message: "exit code 3",
    });
    expect(log).not.toContain("\nnever\n");
    expect(log).toContain("after status=failed\n");
    expect(log).toContain("\x1b[36;1mRunning after_script");
    expect(log).toEndWith("\x1b[31;1mERROR: Job failed: exit code 3\x1b[0;m\n");
  });

  test("variables are exported in order and expanded once; raw ones are left alone", async () => {
    const job = payload({
      variables: [
        { key: "GIT_STRATEGY", value: "none" },
        // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax under test
        { key: "GREETING", value: "hello $WHO and ${WHO}s, $$HOME stays" },
        { key: "WHO", value: "world" },
        { key: "RAW", value: "$WHO", raw: true },
        { key: "QUOTED", value: `it's "quoted" $(not run) \`nor this\`` },
        { key: "SECRET_FILE", value: "file content $WHO", file: true },
        { key: "ENV_FROM_RUNNER", value: "job wins" },
      ],
      steps: steps([
        `echo "G=$GREETING"`,
        `echo "R=$RAW"`,
        `echo "Q=$QUOTED"`,
        `echo "F=$(cat "$SECRET_FILE") at $SECRET_FILE"`,
        `echo "E=$ENV_FROM_RUNNER S=$CI_SERVER T=$CI_JOB_TIMEOUT C=$CI_CONCURRENT_ID"`,
      ]),
    });
    const { result, log } = await run(job, {
      settings: { environment: ["ENV_FROM_RUNNER=runner", "NOEQUALS"] },
    });
    expect(result.state).toBe("success");
    expect(log).toContain("G=hello world and worlds, $HOME stays\n");
    expect(log).toContain("R=$WHO\n");
    expect(log).toContain(`Q=it's "quoted" $(not run) \`nor this\`\n`);
    expect(log).toMatch(/F=file content world at \S+\/group\/project\.tmp\/SECRET_FILE\n/);
    expect(log).toContain("E=job wins S=yes T=3600 C=0\n");
    // cleanup_file_variables removed the file (the worker itself, on its own host).
    const secretFile = /F=file content world at (\S+)\n/.exec(log)![1]!;
    expect(existsSync(secretFile)).toBe(false);
    expect(existsSync(`${secretFile.slice(0, -"SECRET_FILE".length)}gitlab_runner_env`)).toBe(false);
  });

  test("the project directory is <builds_dir>/<short token>/<concurrent project id>/<project path>", async () => {
    const buildsDir = freshDir("custom-builds");
    const { result, log } = await run(
      payload({ steps: steps(['echo "pwd=$(pwd) dir=$CI_PROJECT_DIR root=$CI_BUILDS_DIR"']) }),
      {
        settings: { builds_dir: buildsDir },
      },
    );
    expect(result.state).toBe("success");
    const project = `${buildsDir}/abcdefghi/0/group/project`;
    expect(log).toContain(`pwd=${project} dir=${project} root=${buildsDir}\n`);
  });

  test("$GITLAB_ENV written in script is visible in after_script", async () => {
    const { log } = await run(
      payload({
        steps: steps(
          ['echo "CARRIED=over there" >> "$GITLAB_ENV"', "LOCAL=lost"],
          ['echo "c=$CARRIED l=$LOCAL"'],
        ),
      }),
    );
    expect(log).toContain("c=over there l=\n");
  });

  test("$GITLAB_ENV does not carry over to the next job in the same directory", async () => {
    // GitLab's prepare and cleanup scripts remove the file: a variable one job wrote must not
    // reach the next job that runs in the same builds dir.
    const buildsDir = freshDir("builds");
    const first = await run(payload({ steps: steps(['echo "LEAKED=from job one" >> "$GITLAB_ENV"']) }), {
      buildsDir,
    });
    expect(first.result.state).toBe("success");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax under test
    const { log } = await run(payload({ steps: steps(['echo "leaked=${LEAKED:-nothing}"']) }), { buildsDir });
    expect(log).toContain("leaked=nothing\n");
  });

  test("a graceful cancel stops the script, runs after_script with CI_JOB_STATUS=canceled", async () => {
    const { result, log } = await run(
      payload({
        steps: steps(["echo started", "sleep 30", "echo not reached"], ["echo after status=$CI_JOB_STATUS"]),
      }),
      { onLog: (text, c) => text.includes("started\n") && c.cancel() },
    );
    expect(result.state).toBe("failed");
    expect(result.failureReason).toBe("job_canceled");
    expect(log).not.toContain("not reached\n");
    expect(log).toContain("after status=canceled\n");
  });

  test("a hard abort stops the script and runs no after_script", async () => {
    const { result, log } = await run(
      payload({ steps: steps(["echo started", "sleep 30"], ["echo after-script-ran"]) }),
      { onLog: (text, c) => text.includes("started\n") && c.abort() },
    );
    expect(result.failureReason).toBe("job_canceled");
    expect(log).not.toContain("after-script-ran\n");
    expect(log).not.toContain("cleanup_file_variables");
  });

  test("an abort kills the whole process tree, background children included", async () => {
    const pidFile = join(freshDir("pid"), "..", `bg-${counter}.pid`);
    const { result } = await run(
      payload({ steps: steps([`sleep 1000 & echo $! > ${pidFile}`, "echo started", "wait"]) }),
      { onLog: (text, c) => text.includes("started\n") && c.abort() },
    );
    expect(result.failureReason).toBe("job_canceled");
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    expect(pid).toBeGreaterThan(0);
    expect(await waitGone(pid)).toBe(true);
  });

  test("RUNNER_SCRIPT_TIMEOUT fails with job_execution_timeout and after_script still runs (timedout)", async () => {
    const { result, log } = await run(
      payload({
        variables: [
          { key: "GIT_STRATEGY", value: "none" },
          { key: "RUNNER_SCRIPT_TIMEOUT", value: "1s" },
        ],
        steps: steps(["sleep 30"], ["echo after status=$CI_JOB_STATUS"]),
      }),
    );
    expect(result.state).toBe("failed");
    expect(result.failureReason).toBe("job_execution_timeout");
    // GitLab reports the job's timeout here, not the script's.
    expect(result.message).toBe("execution took longer than 1h0m0s seconds");
    expect(log).toContain("after status=timedout\n");
    expect(log).toContain("step_script could not run to completion because the timeout was exceeded");
  });

  test("the job timeout fails with job_execution_timeout and after_script cannot run", async () => {
    const { result, log } = await run(
      payload({ runner_info: { timeout: 1 }, steps: steps(["sleep 30"], ["echo after-script-ran"]) }),
    );
    expect(result.failureReason).toBe("job_execution_timeout");
    expect(log).not.toContain("after-script-ran\n");
    expect(log).toContain("ERROR: Job failed: execution took longer than 1s seconds");
  });

  test("a local cache saved by one job is restored by the next: fallback keys, policies, sanitised keys", async () => {
    const cacheDir = freshDir("cache");
    const settings = { cache_dir: cacheDir };
    const saved = await run(
      payload({
        cache: [{ key: "deps-non_protected", paths: ["vendor/"], policy: "pull-push" }],
        steps: steps(["test ! -e vendor/x", "mkdir -p vendor && echo v1 > vendor/x"]),
      }),
      { settings },
    );
    expect(saved.result.state).toBe("success");
    expect(saved.log).toContain("Checking cache for deps-non_protected...");
    expect(saved.log).toContain("Failed to extract cache");
    expect(saved.log).toContain("Creating cache deps-non_protected...");
    expect(saved.log).toContain("Created cache");
    expect(existsSync(join(cacheDir, "group/project/deps-non_protected/cache.zip"))).toBe(true);

    const restored = await run(
      payload({
        cache: [{ key: "other", fallback_keys: ["deps-non_protected"], paths: ["vendor/"], policy: "pull" }],
        steps: steps(["cat vendor/x"]),
      }),
      { settings },
    );
    expect(restored.result.state).toBe("success");
    const order = [
      "Checking cache for other...",
      "Failed to extract cache",
      "Checking cache for deps-non_protected...",
      "Successfully extracted cache",
      "v1\n",
      "Not uploading cache other due to policy",
    ];
    const at = order.map((t) => restored.log.indexOf(t));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);

    const pushOnly = await run(
      payload({
        cache: [{ key: "..%2F..%2Fdeps-non_protected ", paths: ["vendor/"], policy: "push" }],
        steps: steps(["test ! -e vendor/x"]),
      }),
      { settings },
    );
    expect(pushOnly.result.state).toBe("success");
    expect(pushOnly.log).toContain(
      'cache key "..%2F..%2Fdeps-non_protected " sanitized to "deps-non_protected"',
    );
    expect(pushOnly.log).toContain("Not downloading cache deps-non_protected due to policy");
  });

  test("CACHE_FALLBACK_KEY is tried last, but never one ending in -protected", async () => {
    const cacheDir = freshDir("cache");
    const settings = { cache_dir: cacheDir };
    await run(payload({ cache: [{ key: "main-protected", paths: ["a"] }], steps: steps(["echo p > a"]) }), {
      settings,
    });
    await run(
      payload({ cache: [{ key: "main-non_protected", paths: ["a"] }], steps: steps(["echo n > a"]) }),
      { settings },
    );
    const vars = (v: string) => [
      { key: "GIT_STRATEGY", value: "none" },
      { key: "CACHE_FALLBACK_KEY", value: v },
    ];
    const ok = await run(
      payload({
        variables: vars("main-non_protected"),
        cache: [{ key: "x", paths: ["a"], policy: "pull" }],
        steps: steps(["cat a"]),
      }),
      { settings },
    );
    expect(ok.log).toContain("n\n");
    const refused = await run(
      payload({
        variables: vars("main-protected. "),
        cache: [{ key: "x", paths: ["a"], policy: "pull" }],
        steps: steps(["test ! -e a"]),
      }),
      { settings },
    );
    expect(refused.result.state).toBe("success");
    expect(refused.log).toContain('CACHE_FALLBACK_KEY "main-protected. " not allowed to end in "-protected"');
    expect(refused.log).not.toContain("Checking cache for main-protected");
  });

  test("an unknown cache policy fails the restore stage; a cache that cannot be saved only warns", async () => {
    const bad = await run(
      payload({
        cache: [{ key: "k", paths: ["a"], policy: "sometimes" }],
        steps: steps(["echo script-ran"]),
      }),
    );
    expect(bad.result.state).toBe("failed");
    expect(bad.log).toContain('unknown cache policy "sometimes"');
    expect(bad.log).not.toContain("script-ran\n");
    const nothing = await run(
      payload({ cache: [{ key: "k", paths: ["missing/"] }], steps: steps(["true"]) }),
    );
    expect(nothing.result.state).toBe("success");
    // The helper warns and exits 0 when no file matches (cache_archiver.go).
    expect(nothing.log).toContain("WARNING: No files to cache.");
    expect(nothing.log).not.toContain("Failed to create cache");
  });

  test("artifact paths without a GitLab URL skip the upload; empty cache/artifacts run nothing", async () => {
    const skipped = await run(
      payload({ artifacts: [{ name: "out", paths: ["dist/"] }], steps: steps(["true"]) }),
    );
    expect(skipped.result.state).toBe("success");
    expect(skipped.log).not.toContain("Uploading artifacts");
    const passing = await run(
      payload({ artifacts: [{ name: "x", paths: [] }], cache: [{ key: "k" }], steps: steps(["true"]) }),
    );
    expect(passing.result.state).toBe("success");
    expect(passing.log).not.toContain("Restoring cache");
  });

  test("an unsupported shell is a configuration error", async () => {
    const { result } = await run(payload({ steps: steps(["true"]) }), { settings: { shell: "pwsh" } });
    expect(result.failureReason).toBe("runner_configuration_error");
  });

  test("works with sh (dash) as the shell", async () => {
    const { result, log } = await run(payload({ steps: steps(["echo 'a\\nb'", "exit 4"]) }), {
      settings: { shell: "sh" },
    });
    expect(log).toContain("\x1b[32;1m$ echo 'a\\nb'\x1b[0;m\n");
    expect(result.exitCode).toBe(4);
  });
});

describe("get_sources", () => {
  const git = (cwd: string, ...args: string[]) =>
    execFileSync("git", args, {
      cwd,
      encoding: "utf8",
      env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1" },
    }).trim();

  function makeRepo(): { url: string; sha: string; work: string } {
    const base = freshDir("repo");
    const work = join(base, "work");
    const bare = join(base, "project.git");
    execFileSync("mkdir", ["-p", work]);
    git(work, "init", "-q", "-b", "main");
    writeFileSync(join(work, "README"), "content from the repository\n");
    git(work, "add", "README");
    git(work, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "first");
    git(base, "clone", "-q", "--bare", work, bare);
    return { url: `file://${bare}`, sha: git(work, "rev-parse", "HEAD"), work };
  }

  test("clone fetches the refspecs and checks out the sha", async () => {
    const repo = makeRepo();
    const job = payload({
      variables: [],
      git_info: {
        repo_url: repo.url,
        ref: "main",
        sha: repo.sha,
        refspecs: ["+refs/heads/main:refs/remotes/origin/main"],
        depth: 1,
      },
      steps: steps(["cat README", "git rev-parse HEAD", "touch untracked-file"]),
    });
    const first = await run(job);
    expect(first.result.state).toBe("success");
    expect(first.log).toContain("Fetching changes with git depth set to 1...");
    expect(first.log).toContain("Created fresh repository.");
    expect(first.log).toContain(`Checking out ${repo.sha.slice(0, 8)} as detached HEAD (ref is main)...`);
    expect(first.log).toContain("content from the repository\n");
    expect(first.log).toContain(`${repo.sha}\n`);
  });

  test("fetch reuses the worktree and git clean removes leftovers", async () => {
    const repo = makeRepo();
    const buildsDir = freshDir("fetch-builds");
    const job = (script: string[]) =>
      payload({
        allow_git_fetch: true,
        variables: [],
        git_info: {
          repo_url: repo.url,
          ref: "main",
          sha: repo.sha,
          refspecs: ["+refs/heads/main:refs/remotes/origin/main"],
        },
        steps: steps(script),
      });
    const first = await run(job(["touch leftover"]), { settings: { builds_dir: buildsDir } });
    expect(first.result.state).toBe("success");
    const second = await run(job(["ls -a"]), { settings: { builds_dir: buildsDir } });
    expect(second.result.state).toBe("success");
    expect(second.log).not.toContain("Created fresh repository.");
    expect(second.log).toContain("Removing leftover\n");
    const listing = second.log.slice(second.log.indexOf("$ ls -a"));
    expect(listing).toContain("README\n");
    expect(listing).not.toContain("leftover");
  });

  test("GIT_STRATEGY none skips git with GitLab's messages", async () => {
    const { log } = await run(payload({ steps: steps(["true"]) }));
    expect(log).toContain("\x1b[32;1mSkipping Git repository setup\x1b[0;m\n");
    expect(log).toContain("Skipping Git checkout");
  });

  describe("get_sources with nothing to fetch, on the worker's own host (issue 16)", () => {
    /** The executor as given, recording which stages reach it; `local` can be hidden. */
    const recording =
      (stages: string[], local: boolean) =>
      (e: ShellExecutor): Executor => ({
        name: e.name,
        local: local && e.local,
        prepare: (ctx) => e.prepare(ctx),
        run: (stage, io, signal) => {
          stages.push(stage.stage);
          return e.run(stage, io, signal);
        },
        cleanup: () => e.cleanup(),
        workspace: (dir) => e.workspace(dir),
      });
    const section = (log: string, name: string) =>
      log
        .slice(
          log.indexOf(`section_start:`, log.indexOf(`:${name}`) - 30),
          log.indexOf(`section_end:`, log.indexOf(`:${name}`) + 1),
        )
        .replace(/section_start:\d+:/, "section_start:T:");

    test.each(["none", "empty"])(
      "GIT_STRATEGY %s: no shell for get_sources, and the same bytes in its section as its script prints",
      async (strategy) => {
        const variables = [{ key: "GIT_STRATEGY", value: strategy }];
        const direct: string[] = [];
        const scripted: string[] = [];
        const a = await run(payload({ variables, steps: steps(["ls -A"]) }), {
          wrap: recording(direct, true),
        });
        const b = await run(payload({ variables, steps: steps(["ls -A"]) }), {
          wrap: recording(scripted, false),
        });
        expect(a.result.state).toBe("success");
        expect(b.result.state).toBe("success");
        expect(direct).toEqual(["prepare_script", "step_script"]);
        expect(scripted).toEqual(["prepare_script", "get_sources", "step_script", "cleanup_file_variables"]);
        expect(section(a.log, "get_sources")).toBe(section(b.log, "get_sources"));
        expect(section(a.log, "cleanup_file_variables")).toBe(section(b.log, "cleanup_file_variables"));
        expect(section(a.log, "get_sources")).toContain("Skipping Git checkout");
      },
    );

    test("GIT_STRATEGY empty empties the project dir without a shell; none keeps what is there", async () => {
      const buildsDir = freshDir("builds");
      const settings = { builds_dir: buildsDir };
      const strategy = (value: string) => [{ key: "GIT_STRATEGY", value }];
      const stages: string[] = [];
      const wrap = recording(stages, true);
      await run(payload({ variables: strategy("none"), steps: steps(["touch leftover"]) }), {
        settings,
        wrap,
      });
      const kept = await run(payload({ variables: strategy("none"), steps: steps(["ls -A"]) }), {
        settings,
        wrap,
      });
      expect(kept.streams.stdout).toContain("leftover\n");
      const emptied = await run(payload({ variables: strategy("empty"), steps: steps(["ls -A"]) }), {
        settings,
        wrap,
      });
      expect(emptied.streams.stdout).not.toContain("leftover");
      expect(stages).not.toContain("get_sources");
    });

    test("prepare_script writes the local host's name in instead of forking hostname; elsewhere $(hostname)", async () => {
      const scripts = new Map<boolean, string>();
      for (const local of [true, false]) {
        const wrap = (e: ShellExecutor): Executor => ({
          ...recording([], local)(e),
          run: (stage, io, signal) => {
            if (stage.stage === "prepare_script") scripts.set(local, stage.script);
            return e.run(stage, io, signal);
          },
        });
        const { log } = await run(payload({ steps: steps(["true"]) }), { wrap });
        expect(log).toContain(`Running on ${hostname()}...`);
      }
      expect(scripts.get(true)).not.toContain("$(hostname)");
      expect(scripts.get(false)).toContain("$(hostname)");
    });

    test("a failing command inside a pipe fails the job (pipefail, as GitLab's bash script sets it)", async () => {
      const { result } = await run(payload({ steps: steps(["false | true", "echo not reached"]) }));
      expect(result.state).toBe("failed");
      expect(result.exitCode).toBe(1);
    });

    test("with CI_DEBUG_TRACE or run --user, get_sources keeps its script", async () => {
      const stages: string[] = [];
      await run(
        payload({
          variables: [
            { key: "GIT_STRATEGY", value: "none" },
            { key: "CI_DEBUG_TRACE", value: "true" },
          ],
          steps: steps(["true"]),
        }),
        { wrap: recording(stages, true) },
      );
      expect(stages).toContain("get_sources");
      expect(new ShellExecutor({ user: "nobody" }).local).toBe(false);
    });
  });

  test("a failing fetch fails get_sources and skips script and after_script", async () => {
    const { result, log } = await run(
      payload({
        variables: [],
        git_info: {
          repo_url: "file:///nonexistent/repo.git",
          sha: "0".repeat(40),
          refspecs: ["+refs/heads/main"],
        },
        steps: steps(["echo ran"], ["echo after-ran"]),
      }),
    );
    expect(result.state).toBe("failed");
    expect(result.failureReason).toBe("script_failure");
    expect(log).not.toContain("\nran\n");
    expect(log).not.toContain("after-ran\n");
  });
});
