#!/usr/bin/env bash
# Builds the offline base image for docker/Dockerfile on machines that cannot reach any container registry:
# a Debian bookworm minbase root filesystem (debootstrap) with Chromium, fonts, procps and CA certificates,
# imported as a local image. It carries no Node: build-image.sh adds the running `node` binary as a layer of the
# pool image, so one base serves every Node version (switching Node costs a 10 s image build, not a new base).
# Where a registry is reachable the official Playwright image is used instead (see build-image.sh).
#
# Usage: bash docker/build-base.sh [--force] [--print-tag]
#   --force      rebuild even when the tag exists
#   --print-tag  print the tag this script would build and exit
# Progress goes to stderr; the image tag is the only line on stdout, so callers can capture it.
# Needs root, debootstrap and a reachable Debian mirror (read from the host's apt sources).
# Measured on a 2-core bookworm VM: debootstrap 26-43 s, apt install 21-29 s, import 5-8 s (52-80 s in all).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
force=0
print_tag=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --print-tag) print_tag=1 ;;
    *) echo "build-base.sh: unknown argument '$arg' (expected --force or --print-tag)" >&2; exit 2 ;;
  esac
done

# The tag changes whenever this recipe changes (comments aside), so a machine that keeps its images between
# sessions never runs a stale base, and editing a comment does not cost a rebuild.
recipe_hash="$(grep -v '^[[:space:]]*#' "$here/build-base.sh" | sha256sum | cut -c1-8)"
tag="${MCP_BASE_TAG:-cinnamon-qa/mcp-base:bookworm-${recipe_hash}}"

if [[ $print_tag == 1 ]]; then
  echo "$tag"
  exit 0
fi

log() { echo "[build-base] $*" >&2; }
t0=$SECONDS
step_name=""
step_start=$SECONDS
# Each step reports how long the previous one took, so a slow mirror or import is easy to spot.
step() {
  [[ -n $step_name ]] && log "   $step_name: $((SECONDS - step_start)) s"
  step_name="$1"; step_start=$SECONDS
  # shellcheck disable=SC1010  # `done` is the word compared here, not a loop keyword (quoting it would change the recipe hash)
  [[ $1 == done ]] || log "$1"
}

if [[ $force == 0 ]] && docker image inspect "$tag" >/dev/null 2>&1; then
  log "base image $tag exists; skipping (use --force to rebuild)"
  echo "$tag"
  exit 0
fi

[[ $(id -u) == 0 ]] || { log "debootstrap and chroot need root; run as root or pass BASE_IMAGE=<official Playwright image> to build-image.sh"; exit 1; }
command -v debootstrap >/dev/null || { log "debootstrap is missing: apt-get install -y debootstrap"; exit 1; }

# Use the mirror apt already uses on this machine (the registry is unreachable, the Debian mirror is not).
mirror="$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
if [[ -z $mirror ]]; then
  mirror="$(awk '/^deb / && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

work="$(mktemp -d /var/tmp/cinnamon-qa-base.XXXXXX)"
rootfs="$work/rootfs"
cleanup() {
  # The chroot's /proc must be unmounted before the tree can be deleted.
  umount "$rootfs/proc" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

log "building $tag from $mirror (work dir $work)"
step "1/3 debootstrap --variant=minbase bookworm"
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; log "debootstrap failed (log above)"; exit 1; }

step "2/3 apt-get install chromium fonts-liberation procps ca-certificates (with bookworm-updates and -security)"
# The host's sources include bookworm-security, which carries the current Chromium; debootstrap alone would
# install the release's original, much older build.
if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
  rm -f "$rootfs/etc/apt/sources.list"
  cp /etc/apt/sources.list.d/*.sources "$rootfs/etc/apt/sources.list.d/"
fi
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
mount -t proc proc "$rootfs/proc"
chroot "$rootfs" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c '
  set -e
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-liberation procps ca-certificates >/dev/null
  apt-get clean
  rm -rf /var/lib/apt/lists/* /var/cache/apt/*
' >"$work/apt.log" 2>&1 || { tail -20 "$work/apt.log" >&2; log "apt-get in the chroot failed (log above)"; exit 1; }
umount "$rootfs/proc"
# Docker provides resolv.conf at run time; do not bake the build host's into the image.
: >"$rootfs/etc/resolv.conf"

step "3/3 docker import"
tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'LABEL org.opencontainers.image.description="cinnamon-qa offline base: Debian bookworm + chromium"' \
  - "$tag" >/dev/null

step "done"
log "built $tag in $((SECONDS - t0)) s"
echo "$tag"
