// `just build`: one `bun build --compile` binary for runmesh and one per service, into dist/.
// --bytecode with --format=esm halves start-up (reference/ecosystem.md §4).
import { $ } from "bun";

const targets: [string, string][] = [
  ["services/runmesh/main.ts", "dist/runmesh"],
  ["services/poller/entry.ts", "dist/runmesh-poller"],
  ["services/scheduler/entry.ts", "dist/runmesh-scheduler"],
  ["services/executor-worker/entry.ts", "dist/runmesh-worker"],
  ["services/autoscaler/entry.ts", "dist/runmesh-autoscaler"],
  ["services/cache-signer/entry.ts", "dist/runmesh-cache-signer"],
];
const only = process.argv.slice(2);
const revision = (await $`git rev-parse --short HEAD`.nothrow().quiet().text()).trim() || "unknown";
for (const [entry, out] of targets) {
  if (only.length && !only.some((o) => out.endsWith(o))) continue;
  const started = performance.now();
  await $`${process.execPath} build --compile --minify --bytecode --format=esm --define process.env.RUNMESH_REVISION=${JSON.stringify(JSON.stringify(revision))} ${entry} --outfile ${out}`.quiet();
  console.log(`built ${out} in ${Math.round(performance.now() - started)} ms`);
}
