// Acquisitions bound to the job the scheduler records as running on the asking worker: the pure
// decision as a table, and the records read back on the in-process bus as the scheduler's dispatch
// and the worker's claim leave them (sealed), forged ones refused.
import { describe, expect, test } from "bun:test";
import { createInprocBus } from "../../libs/bus/inproc-bus.ts";
import { newAeadKey } from "../../libs/messages/aead.ts";
import { sealRecord } from "../../libs/messages/record-seal.ts";
import { JOBS_BUCKET, jobRecordSchema } from "../../libs/messages/subjects.ts";
import { decideAcquisition, type SealedJob, sealedJobs } from "./job-binding.ts";
import { jobRecordFor, storeSealedRecord } from "./sealed-records-for-tests.ts";

const job = (over: Partial<SealedJob> = {}): SealedJob => ({
  state: "running",
  workerId: "w1",
  runnerKey: "g1",
  ...over,
});

describe("decideAcquisition", () => {
  test.each([
    ["running on the asker in this group", job(), { ok: true }],
    [
      "no record",
      undefined,
      {
        ok: false,
        final: false,
        reason: 'job j, worker "w1": the scheduler has no record of this job (yet)',
      },
    ],
    [
      "records unreadable",
      "the scheduler's job records cannot be read (x)",
      {
        ok: false,
        final: false,
        reason: 'job j, worker "w1": the scheduler\'s job records cannot be read (x)',
      },
    ],
    [
      "another worker's job",
      job({ workerId: "w2" }),
      { ok: false, final: true, reason: 'job j, worker "w1": the job runs on worker "w2"' },
    ],
    [
      "another group's job",
      job({ runnerKey: "g2" }),
      {
        ok: false,
        final: true,
        reason: "job j, worker \"w1\": the job is runner entry g2's, not this instance group's (g1)",
      },
    ],
    [
      "a final job",
      job({ state: "final" }),
      { ok: false, final: true, reason: 'job j, worker "w1": the job is final' },
    ],
    [
      "acknowledged, not running yet",
      job({ state: "acknowledged" }),
      { ok: false, final: false, reason: 'job j, worker "w1": the job is acknowledged, not running yet' },
    ],
  ] as const)("%s", (_, found, expected) => {
    expect(decideAcquisition({ key: "j", asker: "w1", groupKey: "g1", found })).toEqual(expected);
  });
});

describe("sealedJobs", () => {
  test("reads the worker from the seal; a record sealed under another key, or naming another in clear, does not count", async () => {
    const bus = createInprocBus();
    const lookup = sealedJobs(bus);
    expect(await lookup("h_1")).toBeUndefined();
    await storeSealedRecord(bus, "h_1", { workerId: "w1" });
    expect(await lookup("h_1")).toEqual({ state: "running", workerId: "w1", runnerKey: "g1" });
    const jobs = await bus.kv(JOBS_BUCKET, jobRecordSchema);
    // A worker rewrites the clear field: the seal still says w1.
    const stored = (await jobs.get("h_1"))!.value;
    await jobs.put("h_1", { ...stored, workerId: "w2" });
    expect(await lookup("h_1")).toMatchObject({ workerId: "w1" });
    // A record it seals itself (another key) opens for nobody.
    await jobs.put("h_2", sealRecord(newAeadKey(), jobRecordFor("h_2", { workerId: "w2" })));
    expect(await lookup("h_2")).toBe("the job's record is not sealed by this mesh's scheduler");
    await bus.close();
  });
});
