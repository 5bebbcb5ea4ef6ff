#!/usr/bin/env bash
# Builds the sandbox's base image from Debian packages, for hosts where no image
# registry can be reached: debootstrap a minimal bookworm
# (its python3 is 3.11, the version the project targets) and `docker import` it.
#
# usage: sandbox/build_base.sh [TAG]        (default tag: resnet-sandbox-base:bookworm)
# The Debian mirror is the one this host's apt already uses, or DEBIAN_MIRROR.
set -euo pipefail
tag=${1:-resnet-sandbox-base:bookworm}
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag already present"
  exit 0
fi
mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  # First "URIs:" (deb822) or "deb URL" (one-line format) that is not a security mirror.
  mirror=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    awk '/^URIs:/ && $2 !~ /security/ {print $2; exit} /^deb / && $2 !~ /security/ {print $2; exit}' || true)
fi
[ -n "$mirror" ] || { echo "no Debian mirror found; set DEBIAN_MIRROR" >&2; exit 1; }
root=$(mktemp -d /tmp/sandbox-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
# minbase keeps the image small; python3-pip installs the wheels in the Dockerfile step;
# libgomp1 is what torch's CPU build links against for OpenMP.
debootstrap --variant=minbase --include=python3,python3-pip,libgomp1,ca-certificates \
  bookworm "$root" "$mirror"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import - "$tag"
echo "built $tag"
