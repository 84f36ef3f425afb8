// The `reason` label of runmesh_leases_total, and how a poller tells a full mesh from its own runner's
// limits: the ledger's refusal sentence (capacity-ledger.ts
// decideLease) folded into a few fixed values, so runner names and numbers do not become series.

export type LeaseRefusal =
  | "unknown_runner"
  | "request_concurrency"
  | "concurrent"
  | "limit"
  | "no_worker"
  | "autoscaler"
  | "other";

export function leaseRefusal(reason: string): LeaseRefusal {
  if (/ is not in the scheduler's config\.toml$/.test(reason)) return "unknown_runner";
  if (reason === "request_concurrency reached") return "request_concurrency";
  if (/^concurrent = \d+ reached$/.test(reason)) return "concurrent";
  if (/^limit = \d+ of runner .* reached$/.test(reason)) return "limit";
  if (reason.startsWith("no worker with a free slot")) return "no_worker";
  if (/: (no ready autoscaled instance|the instance group is full|no active autoscaler)/.test(reason))
    return "autoscaler";
  return "other";
}
