// [mesh]: runmesh's own settings. GitLab Runner ignores unknown tables, so one config.toml serves
// both. Defaults that depend on the rest of the file (worker_slots = concurrent, name = hostname)
// are applied by resolveMesh once the global section is known.
import { z } from "zod";
import { EXECUTORS } from "./runner-schema.ts";
import { durationMs, goDuration, int, oneOf, optStr } from "./schema-primitives.ts";

const NATS_PROTOCOLS = new Set(["nats:", "tls:", "ws:", "wss:"]);
/** nats_url may list several servers separated by commas, as nats.js accepts. */
const natsUrl = () =>
  optStr().refine(
    (v) =>
      v === undefined ||
      v.split(",").every((u) => URL.canParse(u.trim()) && NATS_PROTOCOLS.has(new URL(u.trim()).protocol)),
    {
      error: `a NATS URL like "nats://127.0.0.1:4222" (nats://, tls://, ws:// or wss://; several separated by commas)`,
    },
  );

const positiveDuration = (fallback: string) =>
  goDuration()
    .default(fallback)
    .refine((v) => durationMs(v) > 0, { error: `a positive Go duration like "${fallback}"` });

export const MESH_DEFAULTS = {
  worker_executors: ["shell"],
  heartbeat_interval: "1s",
  worker_lost_after: "5s",
  lease_ttl: "15s",
  dispatch_timeout: "60s",
  pending_keepalive_interval: "10s",
} as const;

export const meshSchema = z.object(
  {
    /** Absent: every tier runs in this process on the in-process bus. */
    nats_url: natsUrl(),
    nats_user: optStr(),
    nats_password: optStr(),
    nats_token: optStr(),
    nats_creds_file: optStr(),
    nats_tls_ca_file: optStr(),
    nats_tls_cert_file: optStr(),
    nats_tls_key_file: optStr(),
    /** Reply subjects' prefix; default `_INBOX_<nats_user>` (identities.conf allows each user its own). */
    nats_inbox_prefix: optStr(),
    /** This member's identity on the mesh; default: the hostname. */
    name: optStr(),
    /** Jobs this worker runs at once; default: `concurrent`. */
    worker_slots: int().min(1, { error: "an integer ≥ 1" }).optional(),
    worker_executors: z
      .array(oneOf(EXECUTORS), { error: "an array of executor names" })
      .default([...MESH_DEFAULTS.worker_executors]),
    heartbeat_interval: positiveDuration(MESH_DEFAULTS.heartbeat_interval),
    worker_lost_after: positiveDuration(MESH_DEFAULTS.worker_lost_after),
    lease_ttl: positiveDuration(MESH_DEFAULTS.lease_ttl),
    dispatch_timeout: positiveDuration(MESH_DEFAULTS.dispatch_timeout),
    pending_keepalive_interval: positiveDuration(MESH_DEFAULTS.pending_keepalive_interval),
    /** The worker's default builds directory when a runner entry sets none. */
    builds_dir: optStr(),
    data_dir: optStr(),
  },
  { error: "a table" },
);

type MeshInput = z.output<typeof meshSchema>;

export function resolveMesh(mesh: MeshInput, context: { concurrent: number; hostname: string }) {
  return {
    ...mesh,
    name: mesh.name ?? context.hostname,
    worker_slots: mesh.worker_slots ?? context.concurrent,
    heartbeat_interval_ms: durationMs(mesh.heartbeat_interval),
    worker_lost_after_ms: durationMs(mesh.worker_lost_after),
    lease_ttl_ms: durationMs(mesh.lease_ttl),
    dispatch_timeout_ms: durationMs(mesh.dispatch_timeout),
    pending_keepalive_interval_ms: durationMs(mesh.pending_keepalive_interval),
  };
}

export type MeshConfig = ReturnType<typeof resolveMesh>;
