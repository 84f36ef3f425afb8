// Stand-alone entry of the executor-worker service (compiled to dist/runmesh-executor-worker): same as `runmesh worker`.
import { tierArgv } from "../runmesh/cli/command-line.ts";
import { main } from "../runmesh/main.ts";

main(tierArgv("worker", process.argv.slice(2))).then((code) => process.exit(code));
