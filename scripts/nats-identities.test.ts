// deploy/nats/identities.conf is what scripts/nats-identities.ts writes for worker-1 and worker-2
// (the file is generated, never edited by hand), and nats-server accepts it.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "bun";
import { identities, identitiesConf } from "./nats-identities.ts";

const ROOT = join(import.meta.dir, "..");

test("the checked-in identities.conf is the generator's output for worker-1 and worker-2", () => {
  expect(readFileSync(join(ROOT, "deploy", "nats", "identities.conf"), "utf8")).toBe(
    identitiesConf(["worker-1", "worker-2"]),
  );
});

test("nats-server accepts the generated identities", async () => {
  const env = Object.fromEntries(
    identities(["worker-1"]).map((i) => [
      `RUNMESH_NATS_${i.user.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_PASSWORD`,
      "pw",
    ]),
  );
  const dir = (await $`mktemp -d`.text()).trim();
  await Bun.write(join(dir, "nats.conf"), `listen: 127.0.0.1:-1\ninclude ./identities.conf\n`);
  await Bun.write(join(dir, "identities.conf"), identitiesConf(["worker-1"]));
  const r = await $`nats-server -c ${join(dir, "nats.conf")} -t`
    .env({ ...process.env, ...env })
    .nothrow()
    .quiet();
  await $`rm -rf ${dir}`.quiet();
  expect({ code: r.exitCode, out: `${r.stdout}${r.stderr}`.trim() }).toMatchObject({ code: 0 });
});

test.each(["worker.1", "a b", "scheduler", ""])("worker id %p is refused", (id) =>
  expect(() => identitiesConf([id])).toThrow(/worker id/),
);

test("each worker publishes only on its own subjects, reads only its own inbox and makes no stream", () => {
  const w = identities(["worker-7"]).find((i) => i.user === "worker-7")!;
  const own = w.publish.filter((s) => s.startsWith("runmesh."));
  expect(own).toEqual([
    "runmesh.worker.worker-7.heartbeat",
    "runmesh.worker.worker-7.event",
    "runmesh.cache.sign.worker-7",
    "runmesh.autoscaler.*.acquire.worker-7",
    "runmesh.autoscaler.*.release.worker-7",
  ]);
  expect(w.subscribe).toEqual(["runmesh.worker.worker-7.dispatch", "_INBOX_worker-7.>"]);
  expect(w.publish.some((s) => s.includes("KV_runmesh-keys") || s.includes("accepted-jobs"))).toBe(false);
  // Only a stream's owner creates or changes it: a stream takes any subjects it is given.
  const streamWriters = identities(["worker-7"])
    .filter((i) => i.publish.some((s) => /^\$JS\.API\.(STREAM\.(CREATE|UPDATE)|>)/.test(s)))
    .map((i) => i.user);
  expect(streamWriters).toEqual(["poller", "scheduler", "autoscaler"]);
});
