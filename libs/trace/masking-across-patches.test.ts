// Property: whatever the write chunking and however small the PATCHes, no secret reaches GitLab
// and GitLab ends up with exactly the bytes masking the whole output at once would give.
import { afterEach, expect, test } from "bun:test";
import { type Coordinator, startCoordinator } from "../../tests/coordinator/coordinator.ts";
import { GitLabClient } from "../gitlab/client.ts";
import { buildRunnerInfo } from "../gitlab/runner-info.ts";
import { createLogger } from "../log/logger.ts";
import { createJobLog } from "./job-log.ts";
import { createMasker, maskWhole } from "./masking.ts";
import { TraceBuffer } from "./trace-buffer.ts";
import { JobTraceReporter } from "./trace-reporter.ts";

const logger = createLogger({ service: "test", level: "silent" });
const info = buildRunnerInfo({ version: "0", revision: "r", executor: "shell", shell: "bash", features: {} });
const enc = new TextEncoder();
const dec = new TextDecoder();
const SECRETS = ["hunter2-Secret", "s3cr3t-token-XYZ", "aa-bb-cc-dd"];

/** mulberry32: a small seeded PRNG, so a failing seed can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomOutput(r: () => number): string {
  const words = ["build", "ok", "step", "é", "日本", "glpat-Abc123def456", "x=1", "\n", " "];
  let s = "";
  while (s.length < 600) {
    s += r() < 0.15 ? SECRETS[Math.floor(r() * SECRETS.length)]! : words[Math.floor(r() * words.length)]!;
    s += r() < 0.3 ? "\n" : " ";
  }
  return `${s}\n`;
}

const RUNNER = "glrt-masking-property";
let coordinator: Coordinator | undefined;
afterEach(async () => {
  await coordinator?.stop();
  coordinator = undefined;
});

test("masking holds across write and PATCH boundaries for random chunkings (20 seeds)", async () => {
  // One strict coordinator, one job per seed: every PATCH must start where GitLab's copy ends, and
  // the after-test audit checks each final checksum and bytesize against what GitLab holds.
  // Interval "0" is ignored by the runner, so the reporter keeps its 1 ms cadence.
  coordinator = await startCoordinator({ traceUpdateIntervalS: 0 });
  coordinator.registerRunner(RUNNER);
  for (let seed = 1; seed <= 20; seed++) {
    const r = rng(seed);
    const text = enc.encode(randomOutput(r));
    const job = coordinator.runJob(RUNNER);
    const buffer = await TraceBuffer.create();
    const masker = () => createMasker({ phrases: SECRETS });
    const log = createJobLog({ buffer, masker, timestamps: false });
    const client = new GitLabClient({
      url: coordinator.url,
      version: "0",
      logger,
      retry: { baseDelayMs: 1, maxDelayMs: 2 },
    });
    const reporter = new JobTraceReporter({
      client,
      jobId: job.id,
      jobToken: job.token,
      info,
      buffer,
      updateIntervalMs: 1,
      maxPatchBytes: 1 + Math.floor(r() * 9),
      finalBackoff: { baseMs: 1, maxMs: 2 },
      logger,
    });
    reporter.start();
    for (let at = 0; at < text.length; ) {
      const n = 1 + Math.floor(r() * 17);
      log.output("stdout", text.subarray(at, at + n));
      at += n;
      if (r() < 0.2) await Bun.sleep(1);
    }
    log.finish();
    const result = await reporter.finish({ state: "success" });
    expect(result.outcome).toBe("succeeded");
    const got = job.traceText;
    for (const s of SECRETS) expect(got).not.toContain(s);
    expect(got).toBe(dec.decode(maskWhole(text, { phrases: SECRETS })));
    expect(coordinator.calls(`PATCH jobs/${job.id}/trace`).length).toBeGreaterThan(10);
    expect(job.rewinds).toHaveLength(0);
    expect(job.final?.checksumMatches).toBe(true);
    await buffer.remove();
  }
});
