// The `bun build` flags of every runmesh binary, shared by scripts/build.ts and the benches that
// build probes the same way (bench/import-cost.ts), so a measured probe is what ships.
// --bytecode with --format=esm halves start-up (reference/ecosystem.md §4). --compile-jit-policy:
// start-up runs with JIT tier-up 1000× more reluctant (the tiers set it to 10× once ready,
// tier-process.ts), so code that runs once never reaches the DFG/FTL compilers: the poller idles
// ~8 MB lower (66.5 → 58.7 MB, anon −2.4, file pages −5.5; bench/binaries.ts).
export const BUILD_FLAGS = [
  "--compile",
  "--minify",
  "--bytecode",
  "--format=esm",
  "--compile-jit-policy=1000",
];
