// Waits a GitLab header asks for (RateLimit-ResetTime, Retry-After) are capped per attempt, and
// the cap is explained once per runner: GitLab Runner 19.4 has none (see HEADER_WAIT_CAP_MS).
import { afterEach, expect, test } from "bun:test";
import {
  type Coordinator,
  type CoordinatorJob,
  startCoordinator,
} from "../../tests/coordinator/coordinator.ts";
import { createLogger } from "../log/logger.ts";
import { GitLabHttp } from "./http.ts";

const RUNNER = "glrt-http-cap-test-0123456789";
let coordinator: Coordinator;
afterEach(async () => {
  await coordinator?.stop();
});
const start = async () => {
  coordinator = await startCoordinator();
  coordinator.registerRunner(RUNNER);
  return coordinator;
};
const keepAlive = (job: CoordinatorJob) => ({
  method: "PUT" as const,
  path: `jobs/${job.id}`,
  headers: { "JOB-TOKEN": job.token, "Content-Type": "application/json" },
  body: JSON.stringify({ token: job.token, state: "running" }),
});

test("header-driven waits are capped; the cap is logged once, naming the runner", async () => {
  const job = (await start()).runJob(RUNNER);
  const inAnHour = new Date(Date.now() + 3_600_000);
  coordinator.failNextUpdates(1, { status: 429, retryAfterS: null, rateLimitResetTime: inAnHour });
  coordinator.failNextUpdates(1, { status: 503, retryAfterS: 3600 });
  coordinator.failNextUpdates(1, { status: 429, retryAfterS: null, rateLimitResetTime: inAnHour });
  const lines: Record<string, unknown>[] = [];
  const capture = createLogger({
    service: "test",
    level: "debug",
    destination: { write: (l: string) => lines.push(JSON.parse(l)) },
  });
  // Uncapped, this send would sleep an hour and the test would time out.
  const res = await new GitLabHttp({
    url: coordinator.url,
    version: "9.9.9",
    logger: capture,
    runner: "docker-1",
    retry: { baseDelayMs: 1, maxDelayMs: 5, maxHeaderWaitMs: 20 },
  }).send(keepAlive(job));
  expect(res.status).toBe(200);
  expect(res.attempts).toBe(4);
  const capLines = lines.filter((l) => String(l.msg).includes("waits at most"));
  expect(capLines).toHaveLength(1);
  expect(capLines[0]).toMatchObject({
    level: "warn",
    runner: "docker-1",
    header: "RateLimit-ResetTime",
    capMs: 20,
  });
  expect(String(capLines[0]!.msg)).toStartWith('runner "docker-1": ');
  const retries = lines.filter((l) => String(l.msg).includes("retrying"));
  expect(retries.map((l) => [l.waitMs, typeof l.askedMs])).toEqual([
    [20, "number"],
    [20, "number"],
    [20, "number"],
  ]);
});
