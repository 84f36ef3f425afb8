// Metrics as an operator reads them: `runmesh run` with listen_address serves GitLab Runner's
// metrics (and runmesh's) on one address; two jobs, one passing and one failing, move the
// counters by exactly what happened; /readyz, /healthz and /debug/jobs/list answer. The scrape
// goes over HTTP to 127.0.0.1 on an ephemeral port.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hasSample, parsePromText, sampleSum } from "./prom-text.ts";
import { type RunProcess, startRunProcess } from "./run-process.ts";

const TOKEN = "glrt-metrics-runner-0123456789";
const SHORT = TOKEN.slice(5, 14);
let run: RunProcess | undefined;

afterEach(async () => {
  await run?.stop();
  run = undefined;
});

async function get(url: string, init?: RequestInit) {
  const res = await fetch(url, init);
  return { status: res.status, text: await res.text(), headers: res.headers };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

test("runmesh run serves GitLab Runner's metrics, /readyz and /debug/jobs/list on listen_address; two jobs move the counters exactly", async () => {
  run = await startRunProcess({
    runners: [{ name: "metrics", token: TOKEN }],
    global: 'listen_address = "127.0.0.1:0"',
  });
  const { coordinator, proc } = run;
  const listening = JSON.parse(await proc.waitFor("metrics server listening")) as { url: string };
  const base = listening.url;
  expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(base).not.toEndWith(":0");

  expect(await get(`${base}/healthz`)).toMatchObject({ status: 200, text: "ok\n" });
  const ready = await until("/readyz 200", async () => {
    const r = await get(`${base}/readyz`);
    return r.status === 200 ? r : undefined;
  });
  expect(ready.text).toBe("ready\nscheduler: ready\nworker: ready\npoller: ready\n");
  expect((await get(`${base}/metrics`, { method: "POST" })).status).toBe(405);

  const before = parsePromText((await get(`${base}/metrics`)).text);
  const ids = { runner: SHORT, runner_name: "metrics" };

  // A job that runs until the test lets it go: it is listed while it runs.
  const gate = join(mkdtempSync(join(tmpdir(), "runmesh-metrics-")), "go");
  const held = coordinator.enqueueJob(TOKEN, {
    script: [`while [ ! -f ${gate} ]; do sleep 0.1; done`, "echo released"],
    gitStrategy: "none",
  });
  await coordinator.waitForJob(held.id, (j) => j.status === "running", 20_000);
  const listed = await until("the running job in /debug/jobs/list", async () => {
    const r = await get(`${base}/debug/jobs/list`);
    return r.text.includes(`/-/jobs/${held.id} state=running stage=step_script`) ? r : undefined;
  });
  expect(listed.headers.get("X-List-Version")).toBe("2");
  expect(listed.text).toMatch(
    new RegExp(
      `^url=\\S+/-/jobs/${held.id} state=running stage=step_script executor_stage=shell_run duration=[0-9.hmsµn]+\\n$`,
    ),
  );
  const during = parsePromText((await get(`${base}/metrics`)).text);
  expect(
    sampleSum(during, "gitlab_runner_jobs", {
      ...ids,
      state: "running",
      stage: "step_script",
      executor_stage: "shell_run",
    }),
  ).toBe(1);
  expect(sampleSum(during, "runmesh_worker_slots", { state: "used" })).toBeGreaterThanOrEqual(1);
  writeFileSync(gate, "");
  expect((await coordinator.waitForFinal(held.id, 30_000)).status).toBe("success");

  const failing = coordinator.enqueueJob(TOKEN, { script: ["echo failing", "exit 3"], gitStrategy: "none" });
  const failed = await coordinator.waitForFinal(failing.id, 30_000);
  expect(failed.status).toBe("failed");
  expect(failed.failureReason).toBe("script_failure");

  // The worker counts a job when its final update is done; the scrape may come just before.
  const after = await until("both jobs counted", async () => {
    const s = parsePromText((await get(`${base}/metrics`)).text);
    return sampleSum(s, "gitlab_runner_job_duration_seconds_count", ids) === 2 ? s : undefined;
  });
  const delta = (name: string, labels: Record<string, string> = {}) =>
    sampleSum(after, name, labels) - sampleSum(before, name, labels);

  expect(delta("gitlab_runner_jobs_total", ids)).toBe(2);
  expect(
    delta("gitlab_runner_failed_jobs_total", {
      ...ids,
      failure_reason: "script_failure",
      mode: "traditional",
    }),
  ).toBe(1);
  expect(delta("gitlab_runner_failed_jobs_total", ids)).toBe(1);
  const got201 = coordinator.calls("POST jobs/request").filter((r) => r.status === 201).length;
  expect(got201).toBe(2);
  expect(
    delta("gitlab_runner_api_request_statuses_total", {
      runner: SHORT,
      endpoint: "request_job",
      status: "201",
      method: "post",
    }),
  ).toBe(2);
  // Every 204 the runner counted is one GitLab answered (one may still be in flight at the scrape).
  const got204 = coordinator.calls("POST jobs/request").filter((r) => r.status === 204).length;
  expect(
    sampleSum(after, "gitlab_runner_api_request_statuses_total", { endpoint: "request_job", status: "204" }),
  ).toBeLessThanOrEqual(got204);
  // The worker's job-token calls, status by status, exactly as GitLab answered them.
  const answered = new Map<string, number>();
  for (const id of [held.id, failing.id])
    for (const [route, endpoint, method] of [
      [`PUT jobs/${id}`, "update_job", "put"],
      [`PATCH jobs/${id}/trace`, "patch_trace", "patch"],
    ] as const)
      for (const r of coordinator.calls(route)) {
        const key = JSON.stringify({ endpoint, method, status: String(r.status) });
        answered.set(key, (answered.get(key) ?? 0) + 1);
      }
  expect([...answered.keys()].some((k) => k.includes("update_job"))).toBe(true);
  for (const [key, n] of answered)
    expect(
      delta("gitlab_runner_api_request_statuses_total", { runner: SHORT, ...JSON.parse(key) }),
      key,
    ).toBe(n);
  expect(sampleSum(after, "gitlab_runner_jobs", { ...ids, state: "running" })).toBe(0);
  expect(
    hasSample(after, "gitlab_runner_jobs", { ...ids, state: "idle", stage: "idle", executor_stage: "idle" }),
  ).toBe(true);
  expect(sampleSum(after, "gitlab_runner_concurrent")).toBe(2);
  // One manager, one system_id: the scheduler's limit carries the poller's.
  const systemId = after.find((x) => x.name === "gitlab_runner_jobs_total")?.labels.system_id;
  expect(systemId).toMatch(/^[rs]_[0-9a-zA-Z]{12}$/);
  expect(hasSample(after, "gitlab_runner_limit", { ...ids, system_id: systemId! })).toBe(true);
  expect(sampleSum(after, "gitlab_runner_request_concurrency_hard_limit", { runner: SHORT })).toBe(1);
  expect(hasSample(after, "gitlab_runner_version_info", { name: "runmesh" })).toBe(true);
  expect(hasSample(after, "gitlab_runner_errors_total", { level: "warning" })).toBe(true);
  // runmesh's own: each job passed each pickup phase once, got a granted lease and one dispatch.
  for (const phase of ["lease", "request", "dispatch", "start"])
    expect(delta("runmesh_job_pickup_seconds_count", { runner_name: "metrics", phase })).toBe(2);
  expect(delta("runmesh_dispatch_duration_seconds_count", { outcome: "accepted" })).toBe(2);
  expect(
    delta("runmesh_leases_total", { runner_name: "metrics", outcome: "granted" }),
  ).toBeGreaterThanOrEqual(2);
  expect(
    delta("runmesh_bus_round_trips_total", {
      tier: "poller",
      subject: "runmesh.scheduler.lease.acquire",
      outcome: "ok",
    }),
  ).toBeGreaterThanOrEqual(2);
  expect(
    delta("runmesh_bus_round_trips_total", {
      tier: "scheduler",
      subject: "runmesh.worker.*.dispatch",
      outcome: "ok",
    }),
  ).toBe(2);
  const slots = sampleSum(after, "runmesh_worker_slots");
  expect(slots).toBeGreaterThan(0);

  const text = (await get(`${base}/metrics`)).text;
  // GitLab Runner's HELP texts, verbatim (dashboards do not care, humans do).
  expect(text).toContain("# HELP gitlab_runner_jobs_total Total number of handled jobs\n");
  expect(text).toContain("# HELP gitlab_runner_failed_jobs_total Total number of failed jobs\n");
  expect(text).toContain("# TYPE gitlab_runner_job_duration_seconds histogram\n");
});
