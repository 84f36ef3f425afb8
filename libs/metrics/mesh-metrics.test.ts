import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { createInprocBus } from "../bus/inproc-bus.ts";
import { rpc } from "../bus/topics.ts";
import { createLogger } from "../log/logger.ts";
import { observeRoundTrips, roundTripSubject } from "./bus-round-trips.ts";
import { countedLevel, countLogErrors } from "./log-errors.ts";
import { MeshMetrics, statusClass } from "./mesh-metrics.ts";
import { FLEETING_METRICS, GITLAB_RUNNER_METRICS, RUNMESH_METRICS } from "./metric-names.ts";

const ids = { runner: "abcdefghi", runnerName: "r1", systemId: "s_0123456789ab" };

/** Records one of everything, so every labelled metric has a sample. */
function exercised(): MeshMetrics {
  let t = 0;
  const m = new MeshMetrics({ version: "1.2.3", revision: "abc", now: () => t });
  m.logged("error");
  m.busRoundTrip("poller", "runmesh.scheduler.lease.acquire", "ok", 0.001);
  m.pickup("lease", "r1", 0.01);
  m.apiRequest(ids, "request_job", "POST", 201, 0.2);
  m.requestLimits(ids, { hard: 2, adaptive: 1.5, used: 2 });
  m.requestStarted(ids)();
  m.requestConcurrencyExceeded(ids);
  m.watchCapacity(() => ({
    concurrent: 4,
    runners: [{ ids, limit: 3 }],
    workers: [{ id: "w1", slots: 2, used: 1 }],
  }));
  m.lease("r1", false, "limit");
  m.dispatched(true, 0.002);
  const running = m.jobStarted(ids, { gitlabUrl: "https://gl", jobId: 1 });
  running.running();
  const failed = m.jobStarted(ids, { gitlabUrl: "https://gl", jobId: 2 });
  t = 90_000;
  failed.finished("failed", "script_failure");
  const group = m.watchInstanceGroup(ids, () => ({
    ids,
    instances: { requested: 1, creating: 1, running: 2, deleting: 0 },
    maxInstances: 5,
    tasks: { idle: 1, pending: 0, acquired: 3, reserved: 0, unavailable: 0, unhealthy: 0 },
    capacityPerInstance: 2,
    maxUseCount: 0,
    desiredInstances: 4,
  }));
  group.scaled("up", 2);
  group.task("acquire");
  return m;
}

describe("the registry", () => {
  test("every metric is exposed with its HELP, TYPE and exactly its label names", async () => {
    const text = await exercised().text();
    for (const spec of [
      ...Object.values(GITLAB_RUNNER_METRICS),
      ...Object.values(RUNMESH_METRICS),
      ...Object.values(FLEETING_METRICS),
    ]) {
      expect(text).toContain(`# HELP ${spec.name} ${spec.help}\n# TYPE ${spec.name} ${spec.type}\n`);
      const sample = spec.type === "histogram" ? `${spec.name}_count` : spec.name;
      const line = text.split("\n").find((l) => l.startsWith(`${sample}{`) || l.startsWith(`${sample} `));
      expect(line, `a sample of ${sample}`).toBeDefined();
      const labels = [...(line!.match(/([a-z_]+)="/g) ?? [])].map((l) => l.slice(0, -2));
      expect(labels.sort()).toEqual([...spec.labels].sort());
    }
  });

  test("counts what happened: one failed job by reason, its duration, the running one", async () => {
    const text = await exercised().text();
    expect(text).toContain(
      'gitlab_runner_failed_jobs_total{runner="abcdefghi",runner_name="r1",failure_reason="script_failure",mode="traditional"} 1\n',
    );
    expect(text).toContain(
      'gitlab_runner_jobs_total{runner="abcdefghi",runner_name="r1",system_id="s_0123456789ab"} 2\n',
    );
    expect(text).toMatch(/gitlab_runner_job_duration_seconds_bucket\{le="60",[^}]*\} 0\n/);
    expect(text).toMatch(/gitlab_runner_job_duration_seconds_bucket\{le="300",[^}]*\} 1\n/);
    expect(text).toMatch(/gitlab_runner_jobs\{[^}]*state="running"[^}]*\} 1\n/);
    expect(text).toContain('gitlab_runner_errors_total{level="error"} 1\n');
    expect(text).toContain('gitlab_runner_errors_total{level="panic"} 0\n');
    expect(text).toContain('runmesh_worker_slots{worker="w1",state="free"} 1\n');
  });

  test("an instance group in fleeting's and taskscaler's names, with GitLab Runner's runner labels", async () => {
    const text = await exercised().text();
    const l = 'runner="abcdefghi",runner_name="r1",system_id="s_0123456789ab"';
    expect(text).toContain(`fleeting_taskscaler_tasks{${l},state="acquired"} 3\n`);
    expect(text).toContain(`fleeting_provisioner_instances{${l},state="requested"} 1\n`);
    expect(text).toContain(`fleeting_provisioner_max_instances{${l}} 5\n`);
    expect(text).toContain(`fleeting_taskscaler_desired_instances{${l}} 4\n`);
    expect(text).toContain(`fleeting_taskscaler_scale_operations_total{${l},operation="up"} 2\n`);
    expect(text).toContain(`fleeting_taskscaler_scale_operations_total{${l},operation="down"} 0\n`);
  });

  test("a standing-by autoscaler's group is not reported", async () => {
    const m = new MeshMetrics({ version: "1", revision: "r" });
    m.watchInstanceGroup(ids, () => undefined);
    expect(await m.text()).not.toContain("fleeting_taskscaler_tasks{");
  });

  test("two registries share nothing (one per process, none global)", async () => {
    const a = new MeshMetrics({ version: "1", revision: "r" });
    const b = new MeshMetrics({ version: "1", revision: "r" });
    a.jobStarted(ids, { gitlabUrl: "https://gl", jobId: 1 });
    expect(await a.text()).toContain("gitlab_runner_jobs_total{");
    expect(await b.text()).not.toContain("gitlab_runner_jobs_total{");
  });

  test("/debug/jobs/list entries: the job URL from the payload's repo_url, credentials removed", () => {
    const m = new MeshMetrics({ version: "1", revision: "r", now: () => 0 });
    const w = m.jobStarted(ids, { gitlabUrl: "https://gl", jobId: 9 });
    w.payload(JSON.stringify({ git_info: { repo_url: "https://gitlab-ci-token:x@gl/g/p.git" } }));
    expect(m.listedJobs().map((j) => [j.url, j.state])).toEqual([["https://gl/g/p/-/jobs/9", "pending"]]);
    w.dropped();
    expect(m.listedJobs()).toEqual([]);
  });
});

describe("pure label helpers", () => {
  const classes: [number, string][] = [
    [99, "unknown"],
    [101, "1xx"],
    [201, "2xx"],
    [204, "2xx"],
    [304, "3xx"],
    [409, "4xx"],
    [503, "5xx"],
    [600, "unknown"],
  ];
  for (const [status, want] of classes)
    test(`status ${status} is ${want} (Go's statusClass)`, () => expect(statusClass(status)).toBe(want));

  const levels: [string, ReturnType<typeof countedLevel>][] = [
    ['{"level":"warn","msg":"x"}', "warning"],
    ['{"level":"error","msg":"x"}', "error"],
    ['{"level":"fatal","msg":"x"}', "fatal"],
    ['{"level":"info","msg":"x"}', undefined],
    ['{"level":50,"msg":"x"}', "error"],
    ["not json", undefined],
  ];
  for (const [line, want] of levels)
    test(`log line ${line} counts as ${want}`, () => expect(countedLevel(line)).toBe(want));

  const subjects: [string, string][] = [
    ["runmesh.worker.w-17.dispatch", "runmesh.worker.*.dispatch"],
    ["runmesh.scheduler.lease.acquire", "runmesh.scheduler.lease.acquire"],
  ];
  for (const [s, want] of subjects)
    test(`subject ${s} → ${want}`, () => expect(roundTripSubject(s)).toBe(want));
});

test("bus round trips: a reply and a timeout are each observed once, by outcome", async () => {
  const bus = createInprocBus();
  const ping = rpc("test.metrics.ping", z.object({ n: z.number() }), z.object({ n: z.number() }));
  const silent = rpc("test.metrics.silent", z.object({}), z.object({}));
  await bus.serve(ping, (m) => ({ n: m.data.n + 1 }));
  await bus.serve(silent, () => new Promise<never>(() => {}));
  const seen: [string, string][] = [];
  const observed = observeRoundTrips(bus, (subject, outcome) => seen.push([subject, outcome]));
  expect(observed.transport).toBe(bus.transport);
  expect(await observed.request(ping, { n: 1 })).toEqual({ n: 2 });
  await expect(observed.request(silent, {}, { timeoutMs: 50 })).rejects.toThrow();
  expect(seen).toEqual([
    ["test.metrics.ping", "ok"],
    ["test.metrics.silent", "timeout"],
  ]);
  await bus.close();
});

test("gitlab_runner_errors_total counts warn and error lines of the logger and its children, once per process", () => {
  const lines: string[] = [];
  const logger = createLogger({
    service: "t",
    level: "info",
    format: "text",
    destination: { write: (l) => lines.push(l) },
  });
  const counted: string[] = [];
  countLogErrors(logger, (level) => counted.push(level));
  countLogErrors(logger, (level) => counted.push(`again ${level}`));
  logger.child({ component: "poller" }).warn("slow");
  logger.error("bad");
  logger.info("fine");
  expect(counted).toEqual(["warning", "error"]);
  expect(lines).toHaveLength(3);
});
