// Job semantics through the whole mesh (in-process bus, real shell executor): sources from a real
// git server over HTTP with the job token, masking, timestamps, cancel and abort from GitLab, the
// job timeout and the output limit, all checked on what the coordinator (GitLab) received.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import type { JobSpec } from "../coordinator/job-payload.ts";
import { createFixtureRepos, type FixtureRepos } from "../infra/git-fixtures.ts";
import { type GitHttpServer, startGitHttpServer } from "../infra/git-http-server.ts";
import { type Mesh, startMesh } from "./mesh-harness.ts";

const TOKEN = "glrt-semantics-runner-0123456789";
let coordinator: Coordinator;
let mesh: Mesh;
let git: GitHttpServer;
let repos: FixtureRepos;

beforeAll(async () => {
  repos = await createFixtureRepos(mkdtempSync(join(tmpdir(), "runmesh-sem-git-")));
  coordinator = await startCoordinator({ longPollMs: 2000, traceUpdateIntervalS: 1 });
  coordinator.registerRunner(TOKEN);
  // GitLab accepts the token of any job that is running; so does this git server.
  git = await startGitHttpServer({
    root: repos.root,
    token: (password) => [...coordinator.jobs.values()].some((j) => j.token === password && !j.isFinal),
  });
  mesh = await startMesh({
    transport: "inproc",
    config: {
      url: coordinator.url,
      concurrent: 4,
      runners: [{ name: "semantics", token: TOKEN, extra: "output_limit = 64" }],
    },
  });
});

afterAll(async () => {
  await mesh?.stop();
  await git?.stop();
  await coordinator?.stop();
});

const TIMESTAMPED = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z [0-9a-f]{2}[OE][ +]/;

async function run(spec: JobSpec, timeoutMs = 30_000) {
  const j = coordinator.enqueueJob(TOKEN, spec);
  return coordinator.waitForFinal(j.id, timeoutMs);
}

describe("job semantics through the mesh", () => {
  test("sources come from a real git server over HTTP with the job token: shallow fetch, checkout by SHA, relative submodule", async () => {
    const done = await run({
      repoUrl: `${git.url}/group/project.git`,
      gitInfo: {
        sha: repos.head,
        ref: "main",
        refspecs: ["+refs/heads/main:refs/remotes/origin/main"],
        depth: 2,
      },
      variables: [{ key: "GIT_SUBMODULE_STRATEGY", value: "recursive", public: true }],
      script: ["git rev-parse HEAD", "git rev-list --count HEAD", "ls sub", "cat .git/shallow | wc -l"],
    });
    expect(done.status).toBe("success");
    expect(done.traceText).toContain(repos.head);
    expect(done.traceText).toContain("Fetching changes with git depth set to 2");
    expect(done.traceText).toMatch(/\n[^\n]*01O 2\n/);
    // The runner's remote carries no token; the job token never shows in the log.
    expect(done.traceText).not.toContain(done.token);
  });

  test("masked variables and token prefixes are masked in what GitLab stores, and every line is timestamped", async () => {
    const done = await run({
      gitStrategy: "none",
      variables: [{ key: "DEPLOY_SECRET", value: "s3cr3t-Value-1234", masked: true }],
      script: [
        'echo "secret=$DEPLOY_SECRET"',
        "echo token glpat-abcdefghij0123456789",
        'printf "%s" "$DEPLOY_SECRET" | cut -c1-5',
      ],
    });
    expect(done.status).toBe("success");
    expect(done.traceText).not.toContain("s3cr3t-Value-1234");
    expect(done.traceText).toContain("secret=[MASKED]");
    expect(done.traceText).toContain("glpat-[MASKED]");
    for (const line of done.traceText.split("\n").filter(Boolean)) expect(line).toMatch(TIMESTAMPED);
    expect(done.final?.checksumMatches).toBe(true);
  });

  test("a graceful cancel from GitLab (canceling) stops the script and still runs after_script", async () => {
    const j = coordinator.enqueueJob(TOKEN, {
      gitStrategy: "none",
      // GitLab's cancel arrives on the answer to a trace PATCH, so the job keeps printing.
      script: ["echo started", "for i in $(seq 120); do echo tick $i; sleep 0.5; done"],
      afterScript: ['echo "after_script ran with $CI_JOB_STATUS"'],
    });
    await coordinator.waitForJob(j.id, (x) => x.traceText.includes("started"), 20_000);
    coordinator.cancel(j.id);
    const done = await coordinator.waitForFinal(j.id, 30_000);
    expect(done.traceText).toContain("after_script ran with canceled");
    expect(done.status).toBe("canceled");
  });

  test("an abort from GitLab (canceled) stops everything: no after_script", async () => {
    // Side effects outside the build directory, not trace text: after the abort GitLab refuses
    // every PATCH, so "after_script ran" could never show in the trace anyway. The job keeps
    // printing because GitLab's abort reaches a runner on the answer to a trace PATCH.
    const marks = mkdtempSync(join(tmpdir(), "runmesh-abort-"));
    const j = coordinator.enqueueJob(TOKEN, {
      gitStrategy: "none",
      script: [
        "echo started",
        `for i in $(seq 120); do echo tick $i; echo $i >> ${marks}/ticks; sleep 0.2; done`,
      ],
      afterScript: [`touch ${marks}/after_script_ran`],
    });
    await coordinator.waitForJob(j.id, (x) => x.traceText.includes("started"), 20_000);
    coordinator.abort(j.id);
    await coordinator.waitForFinal(j.id, 30_000);
    // The worker hears of it on its next trace PATCH (403 / Job-Status: canceled) and stops.
    const deadline = Date.now() + 15_000;
    while (mesh.workers[0]!.runningCount > 0 && Date.now() < deadline) await Bun.sleep(100);
    expect(mesh.workers[0]!.runningCount).toBe(0);
    const ticks = () => readFileSync(join(marks, "ticks"), "utf8").split("\n").filter(Boolean).length;
    const stoppedAt = ticks();
    await Bun.sleep(1000);
    expect(ticks()).toBe(stoppedAt);
    expect(stoppedAt).toBeLessThan(120);
    expect(existsSync(join(marks, "after_script_ran"))).toBe(false);
  });

  test("the job timeout fails the job as job_execution_timeout", async () => {
    const done = await run({ gitStrategy: "none", timeoutS: 2, script: ["echo slow", "sleep 30"] });
    expect(done.status).toBe("failed");
    expect(done.failureReason).toBe("job_execution_timeout");
  });

  test("output beyond output_limit is cut with GitLab Runner's notice and the job still succeeds", async () => {
    const done = await run({
      gitStrategy: "none",
      script: ["for i in $(seq 4000); do echo line $i of a long log; done", "echo still running"],
    });
    expect(done.status).toBe("success");
    expect(done.traceText).toContain("Job's log exceeded limit of 65536 bytes.");
    expect(done.traceSize).toBeLessThanOrEqual(65536 + 512);
    expect(done.final?.checksumMatches).toBe(true);
  });

  test("a payload GitLab Runner would refuse (unknown executor_opts) is failed as a system failure with exit code 3, the reason in its log", async () => {
    const done = await run({
      gitStrategy: "none",
      script: ["echo must not run"],
      extra: {
        image: { name: "alpine", executor_opts: { docker: { platform: "linux/amd64", bogus_option: "x" } } },
      },
    });
    expect(done.status).toBe("failed");
    expect(done.failureReason).toBe("runner_system_failure");
    expect(done.exitCode).toBe(3);
    expect(done.traceText).toContain("bogus_option");
    expect(done.traceText).not.toContain("must not run\n");
  });
});
