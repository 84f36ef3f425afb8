// The README's first command: a GitLab-compatible coordinator, `runmesh run` (every tier in one
// process, on the in-process bus) with the embedded demo config, and a few sample jobs whose
// traces and results are printed. Everything stays on 127.0.0.1.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCoordinator } from "../tests/coordinator/coordinator.ts";
import { spawnRunmesh } from "../tests/e2e/processes.ts";

const TOKEN = "glrt-demo-runner-token-0001";
const coordinator = await startCoordinator({ longPollMs: 50_000, traceUpdateIntervalS: 1 });
coordinator.registerRunner(TOKEN);

const dir = mkdtempSync(join(tmpdir(), "runmesh-demo-"));
const configPath = join(dir, "config.toml");
const demo = readFileSync(join(import.meta.dir, "..", "libs", "config", "fixtures", "demo.toml"), "utf8")
  .replace("http://127.0.0.1:8088", coordinator.url)
  .replaceAll("/tmp/runmesh-demo", dir);
writeFileSync(configPath, demo);

console.log(`coordinator (fake GitLab) on ${coordinator.url}; config ${configPath}`);
const runmesh = spawnRunmesh(["--log-format", "text", "run", "--config", configPath], {
  env: { RUNMESH_LOG_LEVEL: "info" },
});
await runmesh.waitFor("runmesh ready", 30_000);
console.log("runmesh run is up: poller, scheduler and executor-worker in one process\n");

const jobs = [
  coordinator.enqueueJob(TOKEN, {
    name: "build",
    script: [
      'echo "building on $(hostname) as $(whoami)"',
      "for i in 1 2 3; do echo step $i; sleep 0.3; done",
    ],
    gitStrategy: "none",
  }),
  coordinator.enqueueJob(TOKEN, {
    name: "test",
    script: ['echo "CI_JOB_NAME=$CI_JOB_NAME CI_PROJECT_DIR=$CI_PROJECT_DIR"', "test 1 -eq 2"],
    afterScript: ['echo "after_script sees CI_JOB_STATUS=$CI_JOB_STATUS"'],
    gitStrategy: "none",
  }),
  coordinator.enqueueJob(TOKEN, {
    name: "variables",
    script: ['echo "GREETING is $GREETING"'],
    variables: [{ key: "GREETING", value: "hello from a job variable", public: true, masked: false }],
    gitStrategy: "none",
  }),
];

for (const j of jobs) {
  const done = await coordinator.waitForFinal(j.id, 60_000);
  const enqueuedToRunning = (done.runningAt ?? 0) - done.enqueuedAt;
  console.log(
    `──── job ${done.id} "${j.spec.name}": ${done.status}${done.failureReason ? ` (${done.failureReason}, exit code ${done.exitCode})` : ""}; picked up in ${enqueuedToRunning} ms; ${done.patches.length} trace PATCH(es), checksum ${done.final?.checksumMatches ? "matches" : "MISMATCH"}`,
  );
  process.stdout.write(done.traceText.endsWith("\n") ? done.traceText : `${done.traceText}\n`);
}

runmesh.kill("SIGQUIT");
const code = await runmesh.exited;
await coordinator.stop();
const ok = jobs.map((j) => coordinator.jobs.get(j.id)!.status).join(",") === "success,failed,success";
console.log(
  `\nrunmesh exited with ${code} after SIGQUIT (graceful). Demo ${ok ? "OK" : "did NOT give the expected results"}.`,
);
process.exit(ok && code === 0 ? 0 : 1);
