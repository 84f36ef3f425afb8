// Artifacts end to end through the mesh on the shell executor: a job uploads (POST
// jobs/:id/artifacts through the strict coordinator), a later job that lists it as a dependency
// downloads it with its own token through object storage's redirect and sees the files; an
// on_failure entry uploads from a failed job; a 413 fails an otherwise successful job.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Coordinator, startCoordinator } from "../coordinator/coordinator.ts";
import { type Mesh, startMesh } from "./mesh-harness.ts";

const TOKEN = "glrt-artifacts-mesh-0123456789";
let coordinator: Coordinator;
let mesh: Mesh;

beforeAll(async () => {
  coordinator = await startCoordinator({ longPollMs: 1000, traceUpdateIntervalS: 1 });
  coordinator.registerRunner(TOKEN);
  mesh = await startMesh({
    transport: "inproc",
    config: { url: coordinator.url, concurrent: 2, runners: [{ name: "artifacts", token: TOKEN }] },
  });
});

afterAll(async () => {
  await mesh?.stop();
  await coordinator?.stop();
});

const NO_GIT = [{ key: "GIT_STRATEGY", value: "none", public: true }];
const traceOf = (id: number) => new TextDecoder().decode(coordinator.jobs.get(id)!.trace);

describe("artifacts through the mesh (shell executor)", () => {
  test("the shell entry advertises artifacts, multiple and raw uploads and exclude in jobs/request", async () => {
    await coordinator.waitForRequest((r) => r.path.endsWith("/jobs/request"), 10_000);
    const [features] = [...coordinator.managers(TOKEN).values()];
    for (const f of [
      "artifacts",
      "upload_multiple_artifacts",
      "upload_raw_artifacts",
      "artifacts_exclude",
      "cache",
      "fallback_cache_keys",
    ])
      expect([f, features?.[f]]).toEqual([f, true]);
  });

  test("a job uploads its paths; a later job with it as a dependency downloads them and reads the files", async () => {
    const build = coordinator.enqueueJob(TOKEN, {
      name: "build",
      variables: NO_GIT,
      script: [
        "mkdir -p dist/sub logs",
        "echo built-$CI_JOB_ID > dist/sub/out.txt",
        "echo noise > logs/x.log",
      ],
      artifacts: [{ name: "bundle", paths: ["dist/", "logs/"], when: "on_success", expire_in: "1 day" }],
    });
    const built = await coordinator.waitForFinal(build.id, 30_000);
    expect(built.status).toBe("success");
    const upload = coordinator.calls(`POST jobs/${build.id}/artifacts`);
    expect(upload.map((r) => r.status)).toEqual([201]);
    expect(upload[0]!.query).toEqual({ expire_in: "1 day" });
    expect(traceOf(build.id)).toContain("dist/: found 3 matching artifact files and directories");

    const test_ = coordinator.enqueueJob(TOKEN, {
      name: "test",
      variables: NO_GIT,
      script: ["cat dist/sub/out.txt", "test -f logs/x.log"],
      dependencies: [
        { id: build.id, name: "build", token: "", artifacts_file: { filename: "bundle.zip", size: 1 } },
      ],
    });
    // GitLab sends the running job's own token for each dependency.
    (test_.payload.dependencies as { token: string }[])[0]!.token = test_.token;
    const tested = await coordinator.waitForFinal(test_.id, 30_000);
    const trace = traceOf(test_.id);
    expect(tested.status).toBe("success");
    expect(trace).toContain(`Downloading artifacts for build (${build.id})...`);
    expect(trace).toContain(`built-${build.id}\n`);
    const get = coordinator.calls(`GET jobs/${build.id}/artifacts`);
    expect(get.map((r) => [r.status, r.headers["job-token"] === test_.token])).toEqual([[302, true]]);
  });

  test("a cache saved by one job (local cache_dir) is restored by the next through a fallback key", async () => {
    const saver = coordinator.enqueueJob(TOKEN, {
      variables: NO_GIT,
      script: ["mkdir -p .deps && echo cached-$CI_JOB_ID > .deps/lib"],
      cache: [{ key: "deps-non_protected", paths: [".deps"], policy: "pull-push", when: "on_success" }],
    });
    expect((await coordinator.waitForFinal(saver.id, 30_000)).status).toBe("success");
    const reader = coordinator.enqueueJob(TOKEN, {
      variables: NO_GIT,
      script: ["cat .deps/lib"],
      cache: [
        {
          key: "feature-non_protected",
          fallback_keys: ["deps-non_protected"],
          paths: [".deps"],
          policy: "pull",
        },
      ],
    });
    expect((await coordinator.waitForFinal(reader.id, 30_000)).status).toBe("success");
    const trace = traceOf(reader.id);
    expect(trace).toContain("Checking cache for deps-non_protected...");
    expect(trace).toContain(`cached-${saver.id}\n`);
  });

  test("on_failure artifacts upload from a failed job; on_success ones do not", async () => {
    const job = coordinator.enqueueJob(TOKEN, {
      variables: NO_GIT,
      script: ["echo report > report.txt", "echo ok > ok.txt", "exit 3"],
      artifacts: [
        { name: "ok", paths: ["ok.txt"], when: "on_success" },
        { name: "report", paths: ["report.txt"], when: "on_failure" },
      ],
    });
    const done = await coordinator.waitForFinal(job.id, 30_000);
    expect(done.status).toBe("failed");
    expect(done.failureReason).toBe("script_failure");
    expect(coordinator.artifacts.uploads.get(job.id)?.map((a) => a.fileName)).toEqual(["report.zip"]);
  });

  test("an upload GitLab refuses as too large (413) fails an otherwise successful job", async () => {
    coordinator.artifacts.maxBytes = 1000;
    try {
      const job = coordinator.enqueueJob(TOKEN, {
        variables: NO_GIT,
        script: ["head -c 200000 /dev/urandom > big.bin"],
        artifacts: [{ name: "big", paths: ["big.bin"] }],
      });
      const done = await coordinator.waitForFinal(job.id, 30_000);
      expect(done.status).toBe("failed");
      expect(coordinator.calls(`POST jobs/${job.id}/artifacts`).map((r) => r.status)).toEqual([413]);
      expect(traceOf(job.id)).toContain("too large for GitLab (413)");
    } finally {
      coordinator.artifacts.maxBytes = 100 * 1024 * 1024;
    }
  });
});
