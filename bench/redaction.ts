// Cost of the logger's secret redaction after a worker has run 10,000 jobs, before and after
// job tokens were released at each job's end. "before" registers each job's token for good
// (`secrets.add`, what every job did until issue 7): the registry, and the pattern every line
// goes through, grow with every job ever run, and each new job rebuilds that pattern. "after"
// holds each token for its job and releases it when the job ends (`secrets.hold`, what the
// worker does now). Both keep two runner tokens for good and run 4 jobs at a time.
// Figures: per log line once the pattern is built, and per job start (the first line after a
// new token: pattern rebuilt), both measured at the 10,000-job mark.
//
//   node_modules/.bin/bun bench/redaction.ts [jobs]
import { SecretRegistry } from "../libs/log/secret-registry.ts";

const JOBS = Number(process.argv[2] ?? "10000");
const CONCURRENT = 4;
const SAMPLE_LINES = 50_000;
const SAMPLE_JOBS = 20;

const tokenOf = (i: number) => `glcbt-64_${i.toString(36).padStart(8, "0")}Zq7bX9kP2mL4vN`;
/** Typical worker lines (pino JSON, ~200 bytes), no secret in them. */
const lineOf = (job: number, n: number) =>
  n % 2
    ? `{"level":"info","time":"2026-11-30T00:00:00.000Z","service":"worker","worker":"w-1","job":${job},"runner":"docker-1","offset":${n * 4096},"msg":"trace patch accepted"}\n`
    : `{"level":"debug","time":"2026-11-30T00:00:00.000Z","service":"worker","job":${job},"url":"https://gitlab.example.com/api/v4/jobs/${job}/trace","status":202,"msg":"PATCH"}\n`;

function run(mode: "before" | "after", jobs = JOBS) {
  const r = new SecretRegistry();
  r.add("glrt-runner-token-one-0123456789");
  r.add("glrt-runner-token-two-0123456789");
  const live: (() => void)[] = [];
  let sink = 0;
  const startJob = (i: number) => {
    if (mode === "before") r.add(tokenOf(i));
    else live.push(r.hold(tokenOf(i)).release);
    if (live.length > CONCURRENT) live.shift()!();
  };
  // The first JOBS jobs, without lines in "before" (one line each would rebuild the pattern of
  // up to 10,000 tokens 10,000 times: minutes); "after" logs a line per job, as a worker does.
  for (let i = 0; i < jobs; i++) {
    startJob(i);
    if (mode === "after") sink += r.redact(lineOf(i, 0)).length;
  }
  // Per job start at the JOBS mark: new token, then its first line (the pattern is rebuilt).
  const t0 = performance.now();
  for (let i = jobs; i < jobs + SAMPLE_JOBS; i++) {
    startJob(i);
    sink += r.redact(lineOf(i, 0)).length;
  }
  const perJobMs = (performance.now() - t0) / SAMPLE_JOBS;
  // Per line once the pattern is built.
  const t1 = performance.now();
  for (let n = 0; n < SAMPLE_LINES; n++) sink += r.redact(lineOf(n, n)).length;
  const perLineUs = ((performance.now() - t1) * 1000) / SAMPLE_LINES;
  // One line holding a live token, to show redaction still works.
  const redacted = r.redact(`token ${tokenOf(jobs + SAMPLE_JOBS - 1)}`);
  return { registry: r.size, perLineUs, perJobMs, sink, redacted };
}

run("after", 1000); // warms the JIT up, so the first figure printed is not the slowest
console.log(`secret redaction after ${JOBS} jobs (${CONCURRENT} at a time)`);
for (const mode of ["before", "after"] as const) {
  const m = run(mode);
  console.log(
    `${mode.padEnd(6)}  registry ${String(m.registry).padStart(6)} values  ` +
      `${m.perLineUs.toFixed(2).padStart(8)} µs per log line  ` +
      `${m.perJobMs.toFixed(3).padStart(9)} ms per job start (pattern rebuilt)  [${m.redacted}]`,
  );
}
