// Each per-tier binary links its own tier only; the all-in-one links all three. Checked on the
// bundler's own list of inputs (what `bun build --compile` embeds, lazy imports included) for the
// entries scripts/build.ts compiles, so an import that drags another tier in fails here.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");

async function linked(entry: string): Promise<string[]> {
  const r = await Bun.build({
    entrypoints: [join(ROOT, entry)],
    target: "bun",
    format: "esm",
    metafile: true,
  });
  if (!r.success) throw new Error(`bundling ${entry} failed: ${r.logs.join("\n")}`);
  return Object.keys(r.metafile!.inputs).map((p) => p.replace(`${ROOT}/`, ""));
}

const TIER_DIRS = {
  poller: "services/poller/",
  scheduler: "services/scheduler/",
  worker: "services/executor-worker/",
  "cache-signer": "services/cache-signer/",
  autoscaler: "services/autoscaler/",
} as const;

describe("per-tier binaries", () => {
  test.each([
    ["services/poller/entry.ts", "poller"],
    ["services/scheduler/entry.ts", "scheduler"],
    ["services/executor-worker/entry.ts", "worker"],
    ["services/cache-signer/entry.ts", "cache-signer"],
    ["services/autoscaler/entry.ts", "autoscaler"],
  ] as const)("%s links the %s tier and no other tier", async (entry, own) => {
    const inputs = await linked(entry);
    for (const [tier, dir] of Object.entries(TIER_DIRS)) {
      const found = inputs.filter((p) => p.startsWith(dir));
      if (tier === own) expect(found.length).toBeGreaterThan(0);
      else expect({ tier, found }).toEqual({ tier, found: [] });
    }
    // Management verbs (register, verify, …) belong to the all-in-one only.
    // (token rotation reads config.toml's entries through commands/config-runners.ts: poller only.)
    const verbs = ["run-verb.ts", "register.ts", "unregister.ts", "verify.ts", "service.ts"];
    expect(inputs.filter((p) => verbs.some((v) => p === `services/runmesh/commands/${v}`))).toEqual([]);
  });

  test("the all-in-one links every tier and the management verbs", async () => {
    const inputs = await linked("services/runmesh/main.ts");
    for (const dir of [...Object.values(TIER_DIRS), "services/runmesh/commands/"])
      expect(inputs.some((p) => p.startsWith(dir))).toBe(true);
  });
});
