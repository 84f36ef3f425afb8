// Stand-alone entry of the cache-signer (compiled to dist/runmesh-cache-signer): same as `runmesh
// cache-signer`, linking the signer tier only (tests/binaries-link-own-tier.test.ts checks).

import { tierArgv } from "../runmesh/cli/command-line.ts";
import { runCommand } from "../runmesh/command.ts";
import { cacheSignerTier } from "./tier.ts";

runCommand(tierArgv("cache-signer", process.argv.slice(2)), process.env, {
  tiers: { cacheSigner: cacheSignerTier },
}).then((code) => process.exit(code));
