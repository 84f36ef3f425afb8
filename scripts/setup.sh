#!/usr/bin/env bash
# Installs everything runmesh and its tests need on a fresh Debian 12 machine with Node and npm:
# Debian packages (nats-server, git, git-lfs, docker.io and what its tests use) and the npm dependencies (Bun and just come from npm).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v nats-server >/dev/null 2>&1 || need_apt+=(nats-server)
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v git-lfs >/dev/null 2>&1 || need_apt+=(git-lfs)
command -v bash >/dev/null 2>&1 || need_apt+=(bash)
# `runmesh install`'s test checks the unit it writes with systemd-analyze verify.
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
# The docker executor's tests: a private dockerd, images without a registry, a local registry.
[ -x /usr/sbin/dockerd ] || need_apt+=(docker.io)
command -v containerd >/dev/null 2>&1 || need_apt+=(containerd)
command -v runc >/dev/null 2>&1 || need_apt+=(runc)
command -v tini >/dev/null 2>&1 || need_apt+=(tini)
[ -x /usr/sbin/debootstrap ] || need_apt+=(debootstrap)
[ -x /bin/busybox ] || need_apt+=(busybox-static)
[ -x /usr/bin/docker-registry ] || need_apt+=(docker-registry)
# compose.yaml's test brings the stack up with Debian's docker-compose (v1) on a private dockerd.
command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
# The ssh executor's tests start a private sshd on a loopback port.
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  # `npm install`, not `npm ci`: npm 11 here leaves other platforms' optional packages (Biome,
  # just) out of the lock file and `npm ci` then refuses it as out of sync.
  npm install --no-audit --no-fund --loglevel=error
fi
# npm 11 may skip Bun's postinstall; the package still ships a working binary.
node_modules/.bin/bun --version >/dev/null
