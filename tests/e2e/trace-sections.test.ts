// The job log of a real job, timestamped as GitLab Runner 19.1+ writes it: a section marker
// `section_…\r\e[0K` is one entry with its `\e[0K` (TestCarriageReturnDoesNotSplitWrite), not
// a `\r` entry whose `\e[0K` opens the next one with a stale time; so no entry of the log is a
// lone `\e[0K` and the log ends with the job's last line.
import { expect, test } from "bun:test";
import { startCoordinator } from "../coordinator/coordinator.ts";
import { startMesh } from "./mesh-harness.ts";

const RUNNER = "glrt-trace-sections-0123456789";
const HEADER = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z [0-9a-f]{2}[OE][ +]/;

test("section markers keep their \\e[0K in their own entry; no stray entry at the end", async () => {
  const c = await startCoordinator({ longPollMs: 2000, traceUpdateIntervalS: 1 });
  c.registerRunner(RUNNER);
  const mesh = await startMesh({
    transport: "inproc",
    config: { url: c.url, concurrent: 1, runners: [{ name: "sections", token: RUNNER }] },
  });
  let trace = "";
  try {
    const job = c.enqueueJob(RUNNER, { script: ["echo in the script"], gitStrategy: "none" });
    expect((await c.waitForFinal(job.id, 30_000)).status).toBe("success");
    trace = c.jobs.get(job.id)!.traceText;
  } finally {
    await mesh.stop();
    await c.stop();
  }
  const entries = trace.split("\n").slice(0, -1);
  expect(trace.endsWith("\n")).toBe(true);
  for (const e of entries) expect(e).toMatch(HEADER);
  const bodies = entries.map((e) => e.slice(32));
  const markers = bodies.filter((b) => /^section_(start|end):\d+:/.test(b));
  expect(markers.length).toBeGreaterThanOrEqual(6);
  // The marker ends in "\r" + ESC "[0K" (built as a string: Biome refuses control characters in regex literals).
  const marker = new RegExp(`^section_(start|end):\\d+:[a-z_]+\r${"\x1b"}\\[0K$`);
  for (const m of markers) expect(m).toMatch(marker);
  expect(bodies.filter((b) => b === "\x1b[0K")).toEqual([]);
  expect(bodies.at(-1)).toContain("Job succeeded");
});
