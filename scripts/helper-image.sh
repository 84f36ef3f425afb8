#!/usr/bin/env bash
# Builds the docker executor's default helper image (runmesh/helper:bookworm: Debian bookworm
# minbase with bash, git, git-lfs and CA certificates) into the engine DOCKER_HOST names, from
# Debian's mirror with debootstrap: no registry involved. Needs root and debootstrap.
#   DOCKER_HOST=unix:///run/docker.sock bash scripts/helper-image.sh [tag]
set -euo pipefail
: "${DOCKER_HOST:?set DOCKER_HOST to the engine that runs docker jobs}"
tag=${1:-runmesh/helper:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
debootstrap --variant=minbase --include=git,git-lfs,ca-certificates bookworm "$dir/rootfs" "$mirror"
rm -rf "$dir/rootfs"/var/cache/apt/archives/*.deb "$dir/rootfs"/var/lib/apt/lists/* \
  "$dir/rootfs"/usr/share/doc "$dir/rootfs"/usr/share/man
tar -C "$dir/rootfs" --numeric-owner -c . |
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' - "$tag"
echo "helper image: $tag"
