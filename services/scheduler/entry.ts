// Stand-alone entry of the scheduler service (compiled to dist/runmesh-scheduler): same as
// `runmesh scheduler`, linking the scheduler tier only (tests/binaries-link-own-tier.test.ts checks).

import { tierArgv } from "../runmesh/cli/command-line.ts";
import { runCommand } from "../runmesh/command.ts";
import { schedulerTier } from "./tier.ts";

runCommand(tierArgv("scheduler", process.argv.slice(2)), process.env, {
  tiers: { scheduler: schedulerTier },
}).then((code) => process.exit(code));
