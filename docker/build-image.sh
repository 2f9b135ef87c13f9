#!/usr/bin/env bash
# Builds the Playwright MCP server image `cinnamon-qa/mcp:<mcp version>-<hash>` in one command. It runs the same
# from this repository and from an installed package (node_modules/@cinnamon-qa/containers/docker/): everything
# it needs ships in docker/, and @playwright/mcp is found the way Node finds it from the package, wherever npm put
# it. It writes nothing into the package (the staging folder is under TMPDIR), so node_modules may be read-only.
#
# Usage: bash docker/build-image.sh [--force] [--print-tag]
#   --force      rebuild even when the tag exists (the offline base is not rebuilt; see build-base.sh --force)
#   --print-tag  print the tag that would be used and exit (DockerRuntime callers use this to find the image)
# Environment:
#   BASE_IMAGE  what to build FROM:
#               auto (default)  the official Playwright image matching @playwright/mcp's playwright-core; when it
#                               cannot be pulled (no registry), the offline base of build-base.sh
#               playwright      the official Playwright image only
#               offline         the offline base only (debootstrap; needs root; for machines without a registry)
#               <image ref>     any image with node, sh, procps and a Chromium (see the Dockerfile)
#   PLAYWRIGHT_IMAGE_REPO     where the official image lives, default mcr.microsoft.com/playwright
#   CHROMIUM_EXECUTABLE_PATH  Chromium inside the image; default /usr/bin/chromium for the offline base, empty
#                             (the build records the newest /ms-playwright Chromium) for any other base
#   MCP_IMAGE_REPO            image repository, default cinnamon-qa/mcp
# Progress goes to stderr; stdout carries only the tag.
#
# The tag is the installed @playwright/mcp version plus a short hash of everything that goes into the image (the
# Dockerfile, docker/image/*, the base, the Chromium path, the copied package versions and, on the offline base,
# the node version), so the build is skipped exactly when an identical image exists. With BASE_IMAGE=auto,
# --print-tag names the image already built on either base (official first), else the official one.
# Measured on a 2-core bookworm VM: offline base 52-88 s once (debootstrap 26-43 s, apt 21-29 s, import 5-8 s),
# then staging <1 s + docker build 2-10 s; a run that finds the tag takes 0.6 s.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
force=0
print_tag=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --print-tag) print_tag=1 ;;
    *) echo "build-image.sh: unknown argument '$arg' (expected --force or --print-tag)" >&2; exit 2 ;;
  esac
done

log() { echo "[build-image] $*" >&2; }
fail() { log "error: $*"; exit 1; }

repo="${MCP_IMAGE_REPO:-cinnamon-qa/mcp}"
base_mode="${BASE_IMAGE:-auto}"

# Where Node would resolve a package from @playwright/mcp (a nested copy under it wins over a hoisted one), and
# @playwright/mcp itself from this package: a line "<dir><TAB><version>" each for @playwright/mcp, playwright and
# playwright-core (just the TAB when one cannot be found), then this node's version. One node process for all of
# it: each start of node costs 60-70 ms, and every pool start asks for the tag (--print-tag).
resolve_packages() {
  node -e '
    const { createRequire } = require("node:module");
    const path = require("node:path");
    const root = process.argv[1];
    const where = (name) => {
      try {
        let from = createRequire(path.join(root, "package.json"));
        if (name !== "@playwright/mcp") from = createRequire(from.resolve("@playwright/mcp/package.json"));
        const file = from.resolve(name + "/package.json");
        return path.dirname(file) + "\t" + require(file).version;
      } catch {
        return "\t";
      }
    };
    console.log([...["@playwright/mcp", "playwright", "playwright-core"].map(where), process.versions.node].join("\n"));
  ' "$root"
}
{
  IFS=$'\t' read -r mcp_dir mcp_version
  IFS=$'\t' read -r pw_dir pw_version
  IFS=$'\t' read -r core_dir core_version
  read -r node_version
} < <(resolve_packages) || true
[[ -n ${mcp_dir:-} ]] || fail "@playwright/mcp cannot be found from $root; reinstall @cinnamon-qa/containers (npm install) so its dependencies are present"
[[ -n ${pw_dir:-} && -n ${core_dir:-} ]] || fail "playwright / playwright-core (dependencies of @playwright/mcp $mcp_version) cannot be found; reinstall (npm install)"

# The official image whose Playwright matches the playwright-core the server drives (a prerelease core maps to
# its release: the browsers are the same build line).
official="${PLAYWRIGHT_IMAGE_REPO:-mcr.microsoft.com/playwright}:v${core_version%%-*}-noble"
node_bin="$(command -v node)"

# The tag for one base: "offline" or an image reference.
tag_for() {
  local base_ref chromium extra=""
  if [[ $1 == offline ]]; then
    base_ref="$(bash "$here/build-base.sh" --print-tag)"
    chromium="${CHROMIUM_EXECUTABLE_PATH-/usr/bin/chromium}"
    extra="node=$node_version"
  else
    base_ref="$1"
    chromium="${CHROMIUM_EXECUTABLE_PATH-}"
  fi
  local hash
  hash="$(
    {
      echo "base=$base_ref chromium=$chromium mcp=$mcp_version playwright=$pw_version core=$core_version $extra"
      (cd "$here" && find Dockerfile image -type f -print0 | sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -c1-10
  )"
  echo "$repo:$mcp_version-$hash"
}
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

case "$base_mode" in
  auto)
    tag="$(tag_for "$official")"
    if ! image_exists "$tag"; then
      offline_tag="$(tag_for offline)"
      image_exists "$offline_tag" && tag="$offline_tag"
    fi
    ;;
  playwright) tag="$(tag_for "$official")" ;;
  offline) tag="$(tag_for offline)" ;;
  *) tag="$(tag_for "$base_mode")" ;;
esac

if [[ $print_tag == 1 ]]; then
  echo "$tag"
  exit 0
fi

t0=$SECONDS
if [[ $force == 0 ]] && image_exists "$tag"; then
  log "image $tag exists; skipping (use --force to rebuild)"
  echo "$tag"
  exit 0
fi

# 1/3: the base. In auto mode a base that cannot be had falls back to the offline one, saying why.
offline_possible() { [[ $(id -u) == 0 ]] && command -v debootstrap >/dev/null; }
use_offline() {
  t=$SECONDS
  bash "$here/build-base.sh" >/dev/null
  base="$(bash "$here/build-base.sh" --print-tag)"
  local_base=1
  tag="$(tag_for offline)"
  log "    offline base $base ready: $((SECONDS - t)) s"
}
local_base=0
case "$base_mode" in
  offline)
    log "1/3 offline base image (BASE_IMAGE=offline)"
    use_offline
    ;;
  auto | playwright)
    base="$official"
    log "1/3 base image $base (the official Playwright image for playwright-core $core_version)"
    if ! image_exists "$base"; then
      log "    pulling $base (progress below; about 1.5 GB the first time)"
      if ! docker pull "$base" >&2; then
        [[ $base_mode == auto ]] || fail "cannot pull $base: check the registry (docker login?), or use BASE_IMAGE=offline on machines without one"
        offline_possible || fail "cannot pull $base, and the offline base needs root and debootstrap (apt-get install -y debootstrap); or set BASE_IMAGE to an image you have"
        log "    cannot pull $base (no registry reachable?); building the offline base instead (about a minute the first time)"
        use_offline
      fi
    fi
    ;;
  *)
    base="$base_mode"
    log "1/3 base image $base (from BASE_IMAGE; pulled by docker build if missing)"
    ;;
esac
[[ $force == 0 ]] && image_exists "$tag" && { log "image $tag exists; skipping (use --force to rebuild)"; echo "$tag"; exit 0; }
if [[ $local_base == 1 ]]; then chromium="${CHROMIUM_EXECUTABLE_PATH-/usr/bin/chromium}"; else chromium="${CHROMIUM_EXECUTABLE_PATH-}"; fi

log "2/3 staging build context"
t=$SECONDS
stage="$(mktemp -d "${TMPDIR:-/tmp}/cinnamon-qa-mcp-image.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/app/node_modules/@playwright" "$stage/extra"
cp "$here/Dockerfile" "$stage/"
cp -R "$here/image" "$stage/image"
cp -R "$mcp_dir" "$stage/app/node_modules/@playwright/mcp"
cp -R "$pw_dir" "$stage/app/node_modules/playwright"
cp -R "$core_dir" "$stage/app/node_modules/playwright-core"
# Nested node_modules would duplicate what is staged above or pull in unrelated packages.
rm -rf "$stage/app/node_modules/@playwright/mcp/node_modules" "$stage/app/node_modules/playwright/node_modules"
# The offline base has no Node: the one running this build goes in (Debian bookworm and Node's official builds
# both link against a glibc the base has). Other bases bring their own.
if [[ $local_base == 1 ]]; then
  mkdir -p "$stage/extra/usr/bin"
  install -m 0755 "$(readlink -f "$node_bin")" "$stage/extra/usr/bin/node"
fi
log "    $(du -sh "$stage" | cut -f1) staged (@playwright/mcp $mcp_version, playwright $pw_version, playwright-core $core_version$([[ $local_base == 1 ]] && echo ", node $node_version")): $((SECONDS - t)) s"

log "3/3 docker build $tag"
t=$SECONDS
build_log="$stage.build.log"
if ! docker build \
  --build-arg "BASE_IMAGE=$base" \
  --build-arg "CHROMIUM_EXECUTABLE_PATH=$chromium" \
  --label "org.opencontainers.image.title=cinnamon-qa Playwright MCP server" \
  --label "cinnamon-qa.mcp-version=$mcp_version" \
  --label "cinnamon-qa.base=$base" \
  --tag "$tag" \
  "$stage" >"$build_log" 2>&1; then
  tail -30 "$build_log" >&2
  rm -f "$build_log"
  fail "docker build failed (last lines above)"
fi
rm -f "$build_log"
log "    docker build: $((SECONDS - t)) s"
log "built $tag in $((SECONDS - t0)) s"
echo "$tag"
