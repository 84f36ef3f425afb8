// A worker forgets a finished job's token, and only after the job's last log line: jobs run
// through the whole mesh (poller, scheduler, worker in one process, sharing the logger's
// registry); every worker line about a job is written while its token is still redacted, and
// after the run no job token is left in the registry.
import { expect, test } from "bun:test";
import { secrets } from "../../libs/log/logger.ts";
import { startCoordinator } from "../coordinator/coordinator.ts";
import { startMesh } from "./mesh-harness.ts";

const RUNNER = "glrt-release-runner-0123456789";

test("job tokens are released after each job's last worker log line, none left after the run", async () => {
  const c = await startCoordinator({ longPollMs: 2000, traceUpdateIntervalS: 1 });
  c.registerRunner(RUNNER);
  const mesh = await startMesh({
    transport: "inproc",
    config: { url: c.url, concurrent: 2, runners: [{ name: "release", token: RUNNER }] },
  });
  const tokenOf = new Map<number, string>();
  const unheld: string[] = [];
  let workerLines = 0;
  // Checked as each line is written: the redaction a line gets is the one it had then.
  const push = mesh.logs.push.bind(mesh.logs);
  mesh.logs.push = (...lines: string[]) => {
    for (const l of lines) {
      const { service, job } = JSON.parse(l) as { service: string; job?: number };
      const token = job === undefined ? undefined : tokenOf.get(job);
      if (!service.startsWith("worker") || !token) continue;
      workerLines++;
      if (!secrets.has(token)) unheld.push(l);
    }
    return push(...lines);
  };
  try {
    const jobs = Array.from({ length: 6 }, (_, i) =>
      c.enqueueJob(RUNNER, { script: [`echo job ${i}`], gitStrategy: "none" }),
    );
    for (const j of jobs) tokenOf.set(j.id, j.token);
    for (const j of jobs) expect((await c.waitForFinal(j.id, 30_000)).status).toBe("success");
  } finally {
    await mesh.stop();
    await c.stop();
  }
  expect(workerLines).toBeGreaterThan(6);
  expect(unheld).toEqual([]);
  expect([...tokenOf.values()].filter((t) => secrets.has(t))).toEqual([]);
  for (const t of tokenOf.values()) expect(mesh.logs.filter((l) => l.includes(t))).toEqual([]);
});
