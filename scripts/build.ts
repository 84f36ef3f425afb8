// `just build`: one `bun build --compile` binary for runmesh and one per service, into dist/.
// Flags (bytecode, minify…) in build-flags.ts.
import { $ } from "bun";
import { BUILD_FLAGS } from "./build-flags.ts";

const targets: [string, string][] = [
  ["services/runmesh/main.ts", "dist/runmesh"],
  ["services/poller/entry.ts", "dist/runmesh-poller"],
  ["services/scheduler/entry.ts", "dist/runmesh-scheduler"],
  ["services/executor-worker/entry.ts", "dist/runmesh-worker"],
  ["services/autoscaler/entry.ts", "dist/runmesh-autoscaler"],
  ["services/cache-signer/entry.ts", "dist/runmesh-cache-signer"],
  // Fleeting plugins, named as GitLab Runner finds them on PATH (`plugin = "docker"`).
  ["services/fleeting-plugin-docker/main.ts", "dist/fleeting-plugin-docker"],
  ["services/fleeting-plugin-static/main.ts", "dist/fleeting-plugin-static"],
];
const only = process.argv.slice(2);
// Bun's shell passes each interpolation as one argument, unquoted: one JSON.stringify makes the
// define a string literal (two made GitLab see the revision with its quotes).
const revision = (await $`git rev-parse --short HEAD`.nothrow().quiet().text()).trim() || "unknown";
for (const [entry, out] of targets) {
  if (only.length && !only.some((o) => out.endsWith(o))) continue;
  const started = performance.now();
  await $`${process.execPath} build ${BUILD_FLAGS} --define process.env.RUNMESH_REVISION=${JSON.stringify(revision)} ${entry} --outfile ${out}`.quiet();
  console.log(`built ${out} in ${Math.round(performance.now() - started)} ms`);
}
