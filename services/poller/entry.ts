// Stand-alone entry of the poller service (compiled to dist/runmesh-poller): same as `runmesh
// poller`, linking the poller tier only (tests/binaries-link-own-tier.test.ts checks).

import { tierArgv } from "../runmesh/cli/command-line.ts";
import { runCommand } from "../runmesh/command.ts";
import { pollerTier } from "./tier.ts";

runCommand(tierArgv("poller", process.argv.slice(2)), process.env, { tiers: { poller: pollerTier } }).then(
  (code) => process.exit(code),
);
