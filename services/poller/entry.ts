// Stand-alone entry of the poller service (compiled to dist/runmesh-poller): same as `runmesh poller`.
import { tierArgv } from "../runmesh/cli/command-line.ts";
import { main } from "../runmesh/main.ts";

main(tierArgv("poller", process.argv.slice(2))).then((code) => process.exit(code));
