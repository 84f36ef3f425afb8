// Stand-alone entry of the executor-worker service (compiled to dist/runmesh-worker): same as
// `runmesh worker`, linking the worker tier only (tests/binaries-link-own-tier.test.ts checks).

import { tierArgv } from "../runmesh/cli/command-line.ts";
import { runCommand } from "../runmesh/command.ts";
import { workerTier } from "./tier.ts";

runCommand(tierArgv("worker", process.argv.slice(2)), process.env, { tiers: { worker: workerTier } }).then(
  (code) => process.exit(code),
);
