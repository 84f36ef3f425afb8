// The key that names a [[runners]] entry across the mesh: its shared state in the runners KV
// bucket (health, adaptive concurrency, last_update), its slot leases and the runnerKey of its
// jobs. It was the short token, which broke on tokens with characters NATS keys refuse ("*", "<",
// "$", space) and merged entries whose tokens share their first characters.
//
// Every process derives the same key from the same config.toml, and the token takes no part:
// rotating it (operate issue) keeps the entry's state and its leases. The entry is named by
// its GitLab URL plus the runner `id` GitLab assigned (kept by rotation), or its `name` when the
// file has no id, plus how many earlier entries share both; the key is a readable label and a
// SHA-256 of that tuple, so it is valid for NATS KV ([A-Za-z0-9_=.-]) whatever the entry says.
// Renaming an entry without an id, or reordering entries with the same identity, starts it afresh.
import { createHash } from "node:crypto";
import type { RunnerConfig } from "./runner-schema.ts";

type Identity = Pick<RunnerConfig, "url" | "id" | "name">;

const LABEL_MAX = 24;

/** The label part: "id<id>" or the entry's name reduced to key characters, else "runner". */
function label(r: Identity): string {
  if (r.id !== undefined && r.id > 0) return `id${r.id}`;
  const name = (r.name ?? "").replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+|_+$/g, "");
  return name === "" ? "runner" : name.slice(0, LABEL_MAX);
}

/** One key per entry, in order; distinct entries of one file always get distinct keys. */
export function runnerKeys(runners: readonly Identity[]): string[] {
  const seen = new Map<string, number>();
  return runners.map((r) => {
    const identity = r.id !== undefined && r.id > 0 ? ["id", r.id] : ["name", r.name ?? ""];
    const base = JSON.stringify([r.url, ...identity]);
    const ordinal = seen.get(base) ?? 0;
    seen.set(base, ordinal + 1);
    const digest = createHash("sha256")
      .update(JSON.stringify([base, ordinal]))
      .digest("hex");
    return `${label(r)}-${digest.slice(0, 24)}`;
  });
}
