// For the autoscaler's tests: a job's record in the scheduler's JOBS_BUCKET as the scheduler's
// dispatch and the worker's claim leave it (the job sealed with the mesh's records key), so an
// acquisition can be checked against the job without running a scheduler.
import type { Bus } from "../../libs/bus/bus.ts";
import { recordsKey, sealRecord } from "../../libs/messages/record-seal.ts";
import {
  JOBS_BUCKET,
  type JobRecord,
  jobRecordSchema,
  type OpenedJobRecord,
  openedJobRecordSchema,
} from "../../libs/messages/subjects.ts";

/** A job record as the worker stores it, before sealing: job `key` of runner entry `runnerKey`. */
export function jobRecordFor(
  key: string,
  o: { workerId?: string; state?: JobRecord["state"]; runnerKey?: string } = {},
): OpenedJobRecord {
  return openedJobRecordSchema.parse({
    state: o.state ?? "running",
    workerId: o.workerId ?? "w1",
    updatedAt: 0,
    sealed: "",
    job: {
      jobKey: key,
      gitlabUrl: "http://gitlab",
      runnerKey: o.runnerKey ?? "g1",
      runnerName: "auto",
      jobId: 7,
      jobToken: "job-token-binding",
      timeoutS: 3600,
      payload: "{}",
      runner: { short_token: "abc12345", url: "http://gitlab", executor: "instance" },
      systemId: "s",
      leaseId: "l",
      workerId: o.workerId ?? "w1",
      pollerId: "p",
      acceptedAt: 0,
      tls: {},
    },
  });
}

/** Stores job `key`'s record sealed with the mesh's records key (made on first use, as the scheduler does). */
export async function storeSealedRecord(bus: Bus, key: string, o: Parameters<typeof jobRecordFor>[1] = {}) {
  const jobs = await bus.kv(JOBS_BUCKET, jobRecordSchema);
  await jobs.put(key, sealRecord((await recordsKey(bus, { create: true }))!, jobRecordFor(key, o)));
}
