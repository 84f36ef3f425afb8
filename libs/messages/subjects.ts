// Every subject, stream and bucket of the mesh, with the schema of what travels on it.
// Services name subjects only through this module.
import { z } from "zod";
import { rpc, topic } from "../bus/topics.ts";
import { workerRunnerSettingsSchema } from "../config/runner-schema.ts";

/**
 * The runner entry's settings as workers receive them: parsed by the entry's own schema
 * (config.toml keys, never a token; a parsed entry parses again), plus the short token that
 * names the runner in paths and logs. Senders pass the parsed entry; receivers get its type.
 */
export { workerRunnerSettingsSchema };
export type WorkerRunnerSettings = z.output<typeof workerRunnerSettingsSchema>;
const runnerSettings = workerRunnerSettingsSchema;

/** One job accepted from GitLab, handed from poller to scheduler to worker. */
export const acceptedJobSchema = z.object({
  /** `<gitlab-url-hash>_<job id>`: unique per GitLab instance, safe as a KV key. */
  jobKey: z.string(),
  gitlabUrl: z.string(),
  runnerKey: z.string(),
  runnerName: z.string(),
  jobId: z.number().int(),
  /** The job's own token (CI_JOB_TOKEN): the scheduler needs it to report a lost job. */
  jobToken: z.string(),
  timeoutS: z.number(),
  /** The 201 body exactly as GitLab sent it; only the worker parses it fully. "" when in `payloadBlob`. */
  payload: z.string(),
  /** A payload too big to ride in messages waits in the PAYLOADS_STORE under this name (payload-handover.ts). */
  payloadBlob: z
    .object({
      name: z.string(),
      bytes: z.number().int().nonnegative(),
      /** The stored payload is encrypted with this key (base64), which travels only with the job. */
      key: z.string().optional(),
    })
    .optional(),
  runner: runnerSettings,
  systemId: z.string(),
  leaseId: z.string(),
  /** The worker whose slot the lease held: the preferred target of the dispatch. */
  workerId: z.string(),
  pollerId: z.string(),
  acceptedAt: z.number(),
  /** TLS files the worker passes to jobs and uses to talk to GitLab (paths, not contents). */
  tls: z.object({
    caFile: z.string().optional(),
    certFile: z.string().optional(),
    keyFile: z.string().optional(),
  }),
  /** Set by the scheduler's dispatch: the job sealed for its record (record-seal.ts), stored by the worker. */
  sealed: z.string().optional(),
});
export type AcceptedJob = z.infer<typeof acceptedJobSchema>;

export const runningJobSchema = z.object({
  jobKey: z.string(),
  runnerKey: z.string(),
  jobId: z.number().int(),
  /** Bytes of trace GitLab has acknowledged: where a lost-worker notice is appended. */
  traceOffset: z.number().int().nonnegative(),
  /** CRC-32 of those traceOffset bytes: lets the scheduler claim the whole log's checksum. */
  traceCrc32: z.number().int().nonnegative().optional(),
});

/**
 * Subjects a worker publishes carry its id (`runmesh.worker.<id>.heartbeat`): the NATS identity of
 * worker <id> is the only one allowed to publish there (deploy/nats/identities.conf), so whoever
 * listens takes the sender's identity from the subject, never from the message (workerFromSubject).
 */
const workerSubject = (workerId: string, verb: string) => `runmesh.worker.${workerId}.${verb}`;

/**
 * The worker a per-worker subject belongs to: `runmesh.worker.<id>.…`, `runmesh.cache.sign.<id>`,
 * `runmesh.autoscaler.<group>.<verb>.<id>`.
 */
export function workerFromSubject(subject: string): string {
  const t = subject.split(".");
  return (t[1] === "cache" ? t[3] : t[1] === "autoscaler" ? t[4] : t[2]) ?? "";
}

const heartbeatSchema = z.object({
  workerId: z.string(),
  slots: z.number().int().nonnegative(),
  executors: z.array(z.string()),
  running: z.array(runningJobSchema),
  draining: z.boolean(),
  intervalMs: z.number().int().positive(),
  seq: z.number().int(),
});

/** What the scheduler hears: every worker's heartbeats. */
export const heartbeats = topic(workerSubject("*", "heartbeat"), heartbeatSchema);
/** What worker `workerId` publishes. */
export const heartbeatOf = (workerId: string) => topic(workerSubject(workerId, "heartbeat"), heartbeatSchema);
export type Heartbeat = z.infer<typeof heartbeatSchema>;

export const dispatchResult = z.object({
  accepted: z.boolean(),
  reason: z.string().optional(),
});

/** The scheduler hands one job to one worker on that worker's own subject. */
export function dispatchRpc(workerId: string) {
  return rpc(`runmesh.worker.${workerId}.dispatch`, acceptedJobSchema, dispatchResult);
}

export const leaseAcquire = rpc(
  "runmesh.scheduler.lease.acquire",
  z.object({
    runnerKey: z.string(),
    pollerId: z.string(),
    /** Requests for this runner entry that may be in flight at once (request_concurrency, adaptive). */
    maxInFlight: z.number().int().positive(),
  }),
  z.discriminatedUnion("granted", [
    z.object({
      granted: z.literal(true),
      leaseId: z.string(),
      workerId: z.string(),
      ttlMs: z.number(),
      /**
       * This lease took the mesh's last `concurrent` slot: any lease asked for before the next
       * capacityChanged would be refused, so a poller waits for that message instead of asking.
       */
      meshFull: z.boolean().optional(),
    }),
    z.object({ granted: z.literal(false), reason: z.string(), retryAfterMs: z.number() }),
  ]),
);

export const leaseRenew = rpc(
  "runmesh.scheduler.lease.renew",
  z.object({ leaseId: z.string() }),
  z.object({ ok: z.boolean() }),
);

export const leaseRelease = rpc(
  "runmesh.scheduler.lease.release",
  z.object({ leaseId: z.string(), reason: z.string() }),
  z.object({ ok: z.boolean() }),
);

/** Published by the scheduler whenever slots free up, so waiting pollers retry at once. */
export const capacityChanged = topic("runmesh.scheduler.capacity", z.object({ free: z.number().int() }));

const jobEventSchema = z.object({
  jobKey: z.string(),
  jobId: z.number().int(),
  runnerKey: z.string(),
  workerId: z.string(),
  /** Workers publish only "finished" and "dropped" (what frees a slot); the others are still accepted. */
  event: z.enum(["acknowledged", "running", "finished", "dropped"]),
  state: z.string().optional(),
  failureReason: z.string().optional(),
});
export type JobEvent = z.infer<typeof jobEventSchema>;
/** What the scheduler hears: every worker's job lifecycle events. */
export const jobEvents = topic(workerSubject("*", "event"), jobEventSchema);
/** What worker `workerId` publishes. */
export const jobEventOf = (workerId: string) => topic(workerSubject(workerId, "event"), jobEventSchema);

/** Durable handoff poller → scheduler (JetStream work queue on NATS). */
export const acceptedJobs = topic("runmesh.jobs.accepted", acceptedJobSchema);
export const ACCEPTED_JOBS_QUEUE = "accepted-jobs";
/**
 * An accepted job stays unacknowledged on the durable queue until a worker has claimed it, so
 * a scheduler that dies meanwhile leaves it to its successor after this long.
 */
export const ACCEPTED_ACK_WAIT_MS = 10_000;
export const SCHEDULER_CONSUMER = "scheduler";

/**
 * A job's place in its life; moves only forward, by compare-and-set. Workers write claimed →
 * running (committed before GitLab's acknowledgement) → final; "acknowledged" is what earlier
 * versions wrote between the two, still read as a running job.
 */
export const jobStates = ["claimed", "acknowledged", "running", "final"] as const;
/**
 * What a record shows of its job in clear: who and when, nothing secret (token, payload, payload
 * key) and not the runner settings, which only the sealed copy carries. Validated at every record
 * write and read, so kept small: the full runner settings cost ~0.4 ms per record (issue 16).
 */
export const redactedJobSchema = acceptedJobSchema
  .pick({
    jobKey: true,
    gitlabUrl: true,
    runnerKey: true,
    runnerName: true,
    jobId: true,
    timeoutS: true,
    systemId: true,
    leaseId: true,
    workerId: true,
    pollerId: true,
    acceptedAt: true,
  })
  .extend({
    payloadBlob: z.object({ name: z.string(), bytes: z.number().int().nonnegative() }).optional(),
  });
export type RedactedJob = z.infer<typeof redactedJobSchema>;
export const jobRecordSchema = z.object({
  state: z.enum(jobStates),
  workerId: z.string(),
  /** The job without its secrets or settings: workers can read this bucket. */
  job: redactedJobSchema,
  /** The whole job and the worker it went to, sealed for the scheduler and the cache-signer (record-seal.ts). */
  sealed: z.string(),
  /** How it ended (final only): success, failed, dropped, lost. */
  outcome: z.string().optional(),
  updatedAt: z.number(),
});
export type JobRecord = z.infer<typeof jobRecordSchema>;
/** A record with its sealed job opened (record-seal.ts): what the scheduler, signer and autoscaler decide on. */
export const openedJobRecordSchema = jobRecordSchema.extend({ job: acceptedJobSchema });
export type OpenedJobRecord = z.infer<typeof openedJobRecordSchema>;
export const JOBS_BUCKET = "runmesh-jobs";

/** Health, adaptive request concurrency and last_update of one runner entry, shared by its pollers. */
export const runnerStateSchema = z.object({
  lastUpdate: z.string().optional(),
  failures: z.number().int().nonnegative(),
  lastHealthyAt: z.number(),
  adaptiveConcurrency: z.number().positive(),
});
export type RunnerState = z.infer<typeof runnerStateSchema>;
export const RUNNERS_BUCKET = "runmesh-runners";

/**
 * Autoscaler (issue 14): the worker of an autoscaled job asks the active autoscaler of the job's
 * instance group (one per runner entry) for a slot on an instance, and gives it back after the job.
 * The subject carries the group, so only that group's active autoscaler answers, and the asking
 * worker (`runmesh.autoscaler.<group>.acquire.<worker>`, which only that worker's NATS identity may
 * publish to, issue 13): the autoscaler takes the worker from the subject, records it as the
 * acquisition's holder and refuses any other worker that names the acquisition. "*" is what the
 * autoscaler serves: every worker's subject.
 */
function autoscalerSubject(groupKey: string, verb: string, workerId: string): string {
  return `runmesh.autoscaler.${groupKey.replace(/[^A-Za-z0-9_-]/g, "_")}.${verb}.${workerId}`;
}

export const instanceConnectInfoSchema = z.object({
  id: z.string(),
  os: z.string().optional(),
  arch: z.string().optional(),
  protocol: z.enum(["ssh", "winrm", "winrm+https"]).optional(),
  protocolPort: z.number().int().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  key: z.string().optional(),
  useStaticCredentials: z.boolean().optional(),
  keepaliveMs: z.number().optional(),
  timeoutMs: z.number().optional(),
  externalAddr: z.string().optional(),
  internalAddr: z.string().optional(),
  expiresAt: z.number().optional(),
});

/** What worker `workerId` asks on; `"*"`: what the group's autoscaler serves. */
export function autoscalerAcquireRpc(groupKey: string, workerId: string) {
  return rpc(
    autoscalerSubject(groupKey, "acquire", workerId),
    z.object({
      /** The acquisition's key (the job key): acquiring twice with one key returns the same slot. */
      key: z.string(),
      /** How long the caller will keep asking: the demand counts as reserved until then. */
      waitMs: z.number().int().nonnegative(),
    }),
    z.discriminatedUnion("acquired", [
      z.object({ acquired: z.literal(true), instanceId: z.string(), connectInfo: instanceConnectInfoSchema }),
      z.object({
        acquired: z.literal(false),
        reason: z.string(),
        retryAfterMs: z.number(),
        /** Asking again cannot help (another worker holds the key): the caller gives up at once. */
        refused: z.boolean().optional(),
      }),
    ]),
  );
}

/** What worker `workerId` gives back on; `"*"`: what the group's autoscaler serves. */
export function autoscalerReleaseRpc(groupKey: string, workerId: string) {
  return rpc(
    autoscalerSubject(groupKey, "release", workerId),
    z.object({ key: z.string() }),
    /** `reason` when the autoscaler refused (another worker holds the acquisition). */
    z.object({ released: z.boolean(), reason: z.string().optional() }),
  );
}

/** What an instance group can take now, published by its active autoscaler on every change. */
export const autoscalerCapacity = topic(
  "runmesh.autoscaler.capacity",
  z.object({
    groupKey: z.string(),
    autoscalerId: z.string(),
    /** Ready slots free to acquire now. */
    free: z.number().int().nonnegative(),
    /** Slots of all instances that are or will be usable (ready, creating, pending). */
    total: z.number().int().nonnegative(),
    acquired: z.number().int().nonnegative(),
    instances: z.number().int().nonnegative(),
    /** Preemptive mode: ask GitLab for a job only against a ready free slot. */
    preemptive: z.boolean(),
    /** max_instances × capacity_per_instance; 0 = unlimited. */
    maxSlots: z.number().int().nonnegative(),
    /** The report holds this long after it arrives (receiver's clock); re-sent well within it. */
    ttlMs: z.number().int().positive().optional(),
  }),
);
export type AutoscalerCapacity = z.infer<typeof autoscalerCapacity.schema>;

/** One active autoscaler per instance group: the holder of the group's key in this bucket. */
export const autoscalerLeaseSchema = z.object({ holder: z.string(), expiresAt: z.number() });
export const AUTOSCALER_LEASES_BUCKET = "runmesh-autoscaler-leases";

/** An instance group's state, written by its active autoscaler, read by the standby that takes over. */
export const autoscalerInstanceSchema = z.object({
  id: z.string(),
  state: z.enum(["creating", "ready", "unhealthy", "deleting"]),
  /** Keys of the acquisitions the instance holds now. */
  acquisitions: z.array(z.string()),
  /**
   * The worker holding each acquisition, by key (taken from the subject it asked on). Absent for
   * a key acquired before holders were recorded: the next worker naming it takes it over.
   */
  holders: z.record(z.string(), z.string()).optional(),
  useCount: z.number().int().nonnegative(),
  idleSinceMs: z.number(),
  createdAtMs: z.number(),
  /** When Decrease was last sent for it (deletion_retry_interval). */
  deletingSinceMs: z.number().optional(),
  /** Heartbeats failed in a row (failure_threshold). */
  failures: z.number().int().nonnegative().optional(),
});
export const autoscalerGroupStateSchema = z.object({
  instances: z.array(autoscalerInstanceSchema),
  pending: z.number().int().nonnegative(),
  /** When the pending instances were last asked for or one of them showed up. */
  pendingSinceMs: z.number().optional(),
  memo: z.object({
    throttle: z.object({ tokens: z.number(), atMs: z.number() }).optional(),
    lastScaleDown: z.object({ atMs: z.number(), demandSlots: z.number() }).optional(),
  }),
  savedAtMs: z.number(),
});
export type AutoscalerGroupState = z.infer<typeof autoscalerGroupStateSchema>;
export const AUTOSCALER_GROUPS_BUCKET = "runmesh-autoscaler-groups";

/**
 * Cache-signer (issue 10): a worker asks for a presigned URL for one cache key of a job it runs, on
 * its own subject (`runmesh.cache.sign.<worker>`, which only that worker's NATS identity may publish
 * to). The signer takes the worker from the subject, refuses a request whose `workerId` names
 * another, and checks the job's sealed record (record-seal.ts) says the job runs there. No
 * credential ever travels: only the signed URL and the headers the request must carry.
 */
const cacheSignRequest = z.object({
  workerId: z.string(),
  jobKey: z.string(),
  key: z.string(),
  op: z.enum(["get", "head", "put"]),
  /** FF_HASH_CACHE_KEYS naming: the object is the key's SHA-256, sharded (the key stays the human one). */
  hashed: z.boolean().optional(),
});
const cacheSignReply = z.object({
  ok: z.boolean(),
  url: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  /** Why it was refused (names the job, worker and key, never a credential). */
  reason: z.string().optional(),
});
/** What worker `workerId` asks on. */
export const cacheSignRpcOf = (workerId: string) =>
  rpc(`runmesh.cache.sign.${workerId}`, cacheSignRequest, cacheSignReply);
/** What the signer serves: every worker's subject. */
export const cacheSignRpcs = cacheSignRpcOf("*");
export const CACHE_SIGNER_QUEUE = "cache-signer";
