# runmesh tasks. `just` comes from npm (rust-just): run as `npx just <task>` or node_modules/.bin/just.
bun := "node_modules/.bin/bun"

default:
    @just --list

# Install Debian packages and npm dependencies
setup:
    bash scripts/setup.sh

# The demo: a coordinator, the mesh all-in-one, a few sample jobs
demo: setup
    {{bun}} scripts/demo.ts

# Every test (what CI runs)
test: setup
    node_modules/.bin/tsc -p .
    node_modules/.bin/biome ci
    {{bun}} test --timeout 90000

# Compiled binaries (bun build --compile) for runmesh and every service, into dist/
build:
    {{bun}} scripts/build.ts

# Images for compose.yaml (runmesh:local, runmesh-nats:local), built offline on a debootstrap base
image: build
    {{bun}} deploy/image/build-images.ts

# compose.yaml's config/ and secrets/ (NATS users, passwords, TLS; run as root): just compose-bootstrap 8
compose-bootstrap workers="8":
    {{bun}} deploy/compose/bootstrap.ts --config config --workers {{workers}}

# Benchmarks: pickup latency and throughput, in-process and over NATS
bench:
    {{bun}} bench/pickup.ts
    {{bun}} bench/throughput.ts

fmt:
    node_modules/.bin/biome check --write .
