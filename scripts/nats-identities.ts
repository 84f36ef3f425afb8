// Writes deploy/nats/identities.conf: one NATS user per tier and one per worker, each with an
// allow-list (issue 13). nats-server's config users take no permission templates (those are JWT
// only), so every worker's own subjects are spelled out here, from one table:
//   bun scripts/nats-identities.ts worker-1 worker-2 > deploy/nats/identities.conf
// What the lists guarantee, proved on a real nats-server by tests/e2e/nats-identities.test.ts:
// - replies: each user subscribes to its own inbox prefix only (`_INBOX_<user>.>`, the bus's
//   default for a named user), so nobody reads another's KV reads, acks or signed URLs;
// - a worker publishes and subscribes on subjects carrying its own id (dispatch, heartbeat, job
//   events, cache-sign requests, instance acquire/release): the scheduler, the cache-signer and
//   the autoscaler take the worker's identity from the subject, which only that worker may
//   publish to (so no worker releases or takes an instance another worker holds);
// - only a stream's owner may create or change it (a stream takes any subjects it is given);
// - a worker's JetStream access is the jobs KV (its claim by compare-and-set; records carry the
//   job's secrets sealed for the scheduler, libs/messages/record-seal.ts) and the payload store
//   (each stored payload encrypted with a key that travels only in the job's own dispatch);
//   never the accepted-jobs stream, runner state, the records key or autoscaler state;
// - the records key opens job records (and so job tokens): the scheduler, the cache-signer and the
//   autoscaler read it, each to learn which worker runs a job (the autoscaler already reaches the
//   instances autoscaled jobs run on).

/** One user's permissions as nats-server spells them. */
interface Identity {
  user: string;
  comment: string;
  publish: string[];
  subscribe: string[];
  /** Lets a responder answer on the asker's reply subject (and nothing else). */
  allowResponses?: boolean;
}

/**
 * The JetStream API subjects that read one stream; `create`/`update` only for its owner: a stream
 * made or changed by an identity may take any subjects (e.g. every worker's dispatch) and so
 * capture what that identity could never subscribe to.
 */
function streamAccess(
  stream: string,
  o: { create?: boolean; update?: boolean; purge?: boolean; consumers?: boolean } = {},
): string[] {
  return [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    ...(o.create ? [`$JS.API.STREAM.CREATE.${stream}`] : []),
    ...(o.update ? [`$JS.API.STREAM.UPDATE.${stream}`] : []),
    ...(o.purge ? [`$JS.API.STREAM.PURGE.${stream}`] : []),
    ...(o.consumers
      ? [
          `$JS.API.CONSUMER.CREATE.${stream}`,
          `$JS.API.CONSUMER.CREATE.${stream}.>`,
          `$JS.API.CONSUMER.DELETE.${stream}.>`,
        ]
      : []),
  ];
}

const JOBS_KV = "KV_runmesh-jobs";
const KEYS_KV = "KV_runmesh-keys";
const PAYLOADS = "OBJ_runmesh-payloads";
const inbox = (user: string) => `_INBOX_${user}.>`;

/** The payload store as its readers use it (a worker deletes its job's payload at the end: purge). */
const payloadStore = (o: { create?: boolean; purge?: boolean }) => [
  ...streamAccess(PAYLOADS, { ...o, consumers: true }),
  "$O.runmesh-payloads.>",
  `$JS.FC.${PAYLOADS}.>`,
];

export function identities(workers: readonly string[]): Identity[] {
  return [
    {
      user: "poller",
      comment: "asks the scheduler for leases, hands accepted jobs over, keeps runner state",
      publish: [
        "runmesh.scheduler.lease.>",
        "runmesh.jobs.accepted",
        "$JS.API.INFO",
        ...streamAccess("RUNMESH_accepted-jobs", { create: true, update: true }),
        ...streamAccess("KV_runmesh-runners", { create: true }),
        "$KV.runmesh-runners.>",
        ...payloadStore({ create: true, purge: true }),
      ],
      subscribe: ["runmesh.scheduler.capacity", inbox("poller")],
    },
    {
      user: "scheduler",
      comment: "grants leases, dispatches, owns the jobs KV and the records key",
      publish: [
        "runmesh.scheduler.capacity",
        "runmesh.worker.*.dispatch",
        "$JS.API.>",
        "$JS.ACK.>",
        "$JS.FC.>",
        "$KV.runmesh-jobs.>",
        "$KV.runmesh-keys.>",
        "$O.runmesh-payloads.>",
      ],
      subscribe: [
        "runmesh.worker.*.heartbeat",
        "runmesh.worker.*.event",
        "runmesh.scheduler.lease.>",
        "runmesh.autoscaler.capacity",
        inbox("scheduler"),
      ],
      allowResponses: true,
    },
    {
      user: "cache-signer",
      comment: "answers each worker's own cache-sign subject; reads job records and the records key",
      publish: ["$JS.API.INFO", ...streamAccess(JOBS_KV), ...streamAccess(KEYS_KV), ...payloadStore({})],
      subscribe: ["runmesh.cache.sign.*", inbox("cache-signer")],
      allowResponses: true,
    },
    {
      user: "autoscaler",
      comment: "serves acquisitions on each worker's own subjects for jobs running there, publishes capacity",
      publish: [
        "runmesh.autoscaler.capacity",
        "$JS.API.INFO",
        ...streamAccess(JOBS_KV),
        ...streamAccess(KEYS_KV),
        ...streamAccess("KV_runmesh-autoscaler-leases", { create: true }),
        ...streamAccess("KV_runmesh-autoscaler-groups", { create: true }),
        "$KV.runmesh-autoscaler-leases.>",
        "$KV.runmesh-autoscaler-groups.>",
      ],
      subscribe: ["runmesh.autoscaler.*.acquire.*", "runmesh.autoscaler.*.release.*", inbox("autoscaler")],
      allowResponses: true,
    },
    ...workers.map(
      (id): Identity => ({
        user: id,
        comment: `executor worker "${id}" (runmesh worker --id ${id})`,
        publish: [
          `runmesh.worker.${id}.heartbeat`,
          `runmesh.worker.${id}.event`,
          `runmesh.cache.sign.${id}`,
          `runmesh.autoscaler.*.acquire.${id}`,
          `runmesh.autoscaler.*.release.${id}`,
          "$JS.API.INFO",
          ...streamAccess(JOBS_KV),
          "$KV.runmesh-jobs.>",
          ...payloadStore({ purge: true }),
        ],
        subscribe: [`runmesh.worker.${id}.dispatch`, inbox(id)],
        allowResponses: true,
      }),
    ),
  ];
}

/** A worker id as it appears in subjects and user names (worker-id.ts makes ids this way). */
const WORKER_ID = /^[A-Za-z0-9_-]+$/;

export function identitiesConf(workers: readonly string[]): string {
  for (const w of workers)
    if (!WORKER_ID.test(w) || ["poller", "scheduler", "cache-signer", "autoscaler"].includes(w))
      throw new Error(
        `worker id ${JSON.stringify(w)}: expected letters, digits, "-" or "_", not a tier's name`,
      );
  const env = (user: string) => `$RUNMESH_NATS_${user.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_PASSWORD`;
  const list = (xs: string[]) =>
    `[\n${xs.map((x) => `          ${JSON.stringify(x)},`).join("\n")}\n        ]`;
  const users = identities(workers).map(
    (i) => `    # ${i.comment}
    {
      user: ${JSON.stringify(i.user)}
      password: ${env(i.user)}
      permissions: {
        publish: ${list(i.publish)}
        subscribe: ${list(i.subscribe)}${i.allowResponses ? "\n        allow_responses: true" : ""}
      }
    },`,
  );
  return `# runmesh's NATS identities: one user per tier and one per worker, each with an allow-list.
# Generated by scripts/nats-identities.ts (edit that, then:
#   bun scripts/nats-identities.ts ${workers.join(" ")} > deploy/nats/identities.conf).
# Included by nats.conf. Passwords come from the environment of nats-server (never this file).
# Replies: each user reads its own inbox prefix only (_INBOX_<user>). A worker publishes and
# subscribes only on subjects carrying its own id; the scheduler, the cache-signer and the
# autoscaler take the worker's identity from that subject. Checked on a real nats-server by
# tests/e2e/nats-identities.test.ts.
authorization {
  users = [
${users.join("\n")}
  ]
}
`;
}

if (import.meta.main) {
  const workers = process.argv.slice(2);
  if (!workers.length) {
    console.error("usage: bun scripts/nats-identities.ts <worker-id>... > deploy/nats/identities.conf");
    process.exit(2);
  }
  process.stdout.write(identitiesConf(workers));
}
