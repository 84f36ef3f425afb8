// Stand-alone entry of the scheduler service (compiled to dist/runmesh-scheduler): same as `runmesh scheduler`.
import { tierArgv } from "../runmesh/cli/command-line.ts";
import { main } from "../runmesh/main.ts";

main(tierArgv("scheduler", process.argv.slice(2))).then((code) => process.exit(code));
