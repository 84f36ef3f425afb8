// The `bun build` flags of every runmesh binary, shared by scripts/build.ts and the benches that
// build probes the same way (bench/import-cost.ts), so a measured probe is what ships.
// --bytecode with --format=esm halves start-up (reference/ecosystem.md §4). --compile-jit-policy:
// start-up runs with JIT tier-up 1000× more reluctant (the tiers set it to 10× once ready,
// tier-process.ts), so code that runs once never reaches the DFG/FTL compilers: the poller idles
// ~8 MB lower (66.5 → 58.7 MB, anon −2.4, file pages −5.5; bench/binaries.ts). --splitting: what
// is behind import() (grpc, ssh2, OpenTelemetry, dockerode, prom-client…) goes into chunks of its
// own inside the binary, loaded at the first import(); in one bundle its bytecode and source are
// mapped and read at start-up although never run (−0.6 to −1.9 MB idle per tier in an A/B with
// bench/binaries.ts --cold; a hello world with three such imports 28.6 → 26.9).
export const BUILD_FLAGS = [
  "--compile",
  "--minify",
  "--bytecode",
  "--format=esm",
  "--splitting",
  "--compile-jit-policy=1000",
];
