#!/usr/bin/env bash
# Builds the Playwright MCP server image `cinnamon-qa/mcp:<mcp version>-<hash>` in one command.
#
# Usage: bash docker/build-image.sh [--force] [--print-tag]
#   --force      rebuild even when the tag exists (the base image is not rebuilt; see build-base.sh --force)
#   --print-tag  print the tag that would be built and exit (DockerRuntime callers use this to find the image)
# Environment:
#   BASE_IMAGE                unset: build (once) and use the offline Debian base from docker/build-base.sh;
#                             set (e.g. mcr.microsoft.com/playwright:v1.58.0-noble): build FROM it instead
#   CHROMIUM_EXECUTABLE_PATH  Chromium inside the image; default /usr/bin/chromium for the offline base, empty
#                             (Playwright finds its own browser) for any other BASE_IMAGE
#   MCP_IMAGE_REPO            image repository, default cinnamon-qa/mcp
# Progress goes to stderr; stdout carries only the tag.
#
# The tag is the @playwright/mcp version from package-lock.json plus a short hash of everything that goes into
# the image (Dockerfile, docker/image/*, the base, the Chromium path, the copied package versions), so the
# build is skipped exactly when an identical image exists.
# Measured on a 2-core bookworm VM: offline base 52-88 s once (debootstrap 26-43 s, apt 21-29 s, import 5-8 s), then
# staging <1 s + docker build 2-4 s; a run that finds the tag takes 0.6 s.
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
if [[ -n ${BASE_IMAGE:-} ]]; then
  base="$BASE_IMAGE"
  local_base=0
  chromium="${CHROMIUM_EXECUTABLE_PATH-}"
else
  base="$(bash "$here/build-base.sh" --print-tag)"
  local_base=1
  chromium="${CHROMIUM_EXECUTABLE_PATH-/usr/bin/chromium}"
fi

# Copy exactly the packages @playwright/mcp resolves at run time, from where Node would resolve them (a nested
# copy under @playwright/mcp wins over the hoisted one).
resolve_pkg() {
  (cd "$root" && node -e '
    const { createRequire } = require("node:module");
    const path = require("node:path");
    const from = createRequire(path.resolve("node_modules/@playwright/mcp/package.json"));
    const file = from.resolve(process.argv[1] + "/package.json");
    const { version } = require(file);
    console.log(path.dirname(file) + " " + version);
  ' "$1")
}
mcp_dir="$root/node_modules/@playwright/mcp"
[[ -f $mcp_dir/package.json ]] || fail "node_modules/@playwright/mcp is missing; run 'npm ci' in $root first"
lock_version="$(cd "$root" && node -p 'require("./package-lock.json").packages["node_modules/@playwright/mcp"]?.version ?? ""')"
mcp_version="$(node -p "require('$mcp_dir/package.json').version")"
[[ -n $lock_version ]] || fail "package-lock.json has no node_modules/@playwright/mcp entry"
[[ $lock_version == "$mcp_version" ]] \
  || fail "installed @playwright/mcp $mcp_version differs from package-lock.json ($lock_version); run 'npm ci'"
read -r pw_dir pw_version < <(resolve_pkg playwright)
read -r core_dir core_version < <(resolve_pkg playwright-core)

inputs_hash="$(
  {
    echo "base=$base chromium=$chromium mcp=$mcp_version playwright=$pw_version core=$core_version"
    (cd "$here" && find Dockerfile image -type f -print0 | sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-10
)"
tag="$repo:$mcp_version-$inputs_hash"

if [[ $print_tag == 1 ]]; then
  echo "$tag"
  exit 0
fi

t0=$SECONDS
if [[ $force == 0 ]] && docker image inspect "$tag" >/dev/null 2>&1; then
  log "image $tag exists; skipping (use --force to rebuild)"
  echo "$tag"
  exit 0
fi

if [[ $local_base == 1 ]]; then
  log "1/3 offline base image (BASE_IMAGE unset)"
  t=$SECONDS
  bash "$here/build-base.sh" >/dev/null
  log "    base $base ready: $((SECONDS - t)) s"
else
  log "1/3 base image $base (from BASE_IMAGE; pulled by docker build if missing)"
fi

log "2/3 staging build context"
t=$SECONDS
stage="$(mktemp -d "${TMPDIR:-/tmp}/cinnamon-qa-mcp-image.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/app/node_modules/@playwright"
cp "$here/Dockerfile" "$stage/"
cp -R "$here/image" "$stage/image"
cp -R "$mcp_dir" "$stage/app/node_modules/@playwright/mcp"
cp -R "$pw_dir" "$stage/app/node_modules/playwright"
cp -R "$core_dir" "$stage/app/node_modules/playwright-core"
# Nested node_modules would duplicate what is staged above or pull in unrelated packages.
rm -rf "$stage/app/node_modules/@playwright/mcp/node_modules" "$stage/app/node_modules/playwright/node_modules"
log "    $(du -sh "$stage" | cut -f1) staged (@playwright/mcp $mcp_version, playwright $pw_version, playwright-core $core_version): $((SECONDS - t)) s"

log "3/3 docker build $tag"
t=$SECONDS
build_log="$stage.build.log"
if ! docker build \
  --build-arg "BASE_IMAGE=$base" \
  --build-arg "CHROMIUM_EXECUTABLE_PATH=$chromium" \
  --label "org.opencontainers.image.title=cinnamon-qa Playwright MCP server" \
  --label "cinnamon-qa.mcp-version=$mcp_version" \
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
