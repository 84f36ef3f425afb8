// The `bun build` flags of every runmesh binary, shared by scripts/build.ts and the benches that
// build probes the same way (bench/import-cost.ts), so a measured probe is what ships.
// --bytecode with --format=esm halves start-up (reference/ecosystem.md §4).
export const BUILD_FLAGS = ["--compile", "--minify", "--bytecode", "--format=esm"];
