// An instance is acquired only for a job the scheduler records as running on the asking worker, in
// the autoscaler's own group (issue 13), as the cache-signer checks a cache URL's job: the job's
// record in the scheduler's JOBS_BUCKET, opened with the records key (record-seal.ts), names the
// worker the job was dispatched to, which no worker can forge. So no worker makes instances (cloud
// spend, waiting demand) for jobs it does not run, nor takes another job's key first so that the
// job owning it waits in vain. decideAcquisition is pure; sealedJobs reads the records.
import type { Bus } from "../../libs/bus/bus.ts";
import { openedRecords } from "../../libs/messages/record-seal.ts";
import type { JobRecord } from "../../libs/messages/subjects.ts";

/** What the check needs of a job's record; the worker is the seal's, not the clear field's. */
export interface SealedJob {
  state: JobRecord["state"];
  workerId: string;
  runnerKey: string;
}

/** A job's record by its key: the job, undefined when there is none, or why it cannot be trusted. */
export type JobLookup = (jobKey: string) => Promise<SealedJob | string | undefined>;

/** `final`: asking again cannot help (another worker's job, another group's, a finished one). */
export type AcquisitionVerdict = { ok: true } | { ok: false; reason: string; final: boolean };

export function decideAcquisition(o: {
  /** The acquisition's key: the job's key. */
  key: string;
  /** The worker the request's subject names. */
  asker: string;
  groupKey: string;
  found: SealedJob | string | undefined;
}): AcquisitionVerdict {
  const refuse = (why: string, final: boolean): AcquisitionVerdict => ({
    ok: false,
    reason: `job ${o.key}, worker ${JSON.stringify(o.asker)}: ${why}`,
    final,
  });
  const f = o.found;
  if (f === undefined) return refuse("the scheduler has no record of this job (yet)", false);
  if (typeof f === "string") return refuse(f, false);
  if (f.workerId !== o.asker) return refuse(`the job runs on worker ${JSON.stringify(f.workerId)}`, true);
  if (f.runnerKey !== o.groupKey)
    return refuse(
      `the job is runner entry ${f.runnerKey}'s, not this instance group's (${o.groupKey})`,
      true,
    );
  if (f.state === "final") return refuse("the job is final", true);
  if (f.state !== "running") return refuse(`the job is ${f.state}, not running yet`, false);
  return { ok: true };
}

/** Job records as the scheduler sealed them (record-seal.ts openedRecords), as the binding needs them. */
export function sealedJobs(bus: Bus): JobLookup {
  const read = openedRecords(bus);
  return async (jobKey) => {
    const r = await read(jobKey);
    return typeof r === "object" ? { state: r.state, workerId: r.workerId, runnerKey: r.job.runnerKey } : r;
  };
}
