// Stand-alone entry of the autoscaler service (compiled to dist/runmesh-autoscaler): same as
// `runmesh autoscaler`, linking the autoscaler tier only (tests/binaries-link-own-tier.test.ts
// checks). `runmesh-autoscaler simulate --trace …` replays a trace, as `runmesh autoscaler simulate`.

import { tierArgv } from "../runmesh/cli/command-line.ts";
import { runCommand } from "../runmesh/command.ts";
import { autoscalerTier } from "./tier.ts";

runCommand(tierArgv("autoscaler", process.argv.slice(2)), process.env, {
  tiers: { autoscaler: autoscalerTier },
}).then((code) => process.exit(code));
