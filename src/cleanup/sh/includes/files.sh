# Files and folders of the sandbox. Every directory is checked before anything under it is removed.
# Needs common.
# shellcheck disable=SC2034,SC2154 # cq_ variables are shared with the other includes and the scripts; shellcheck -x checks each script with its includes.

# Succeeds when $1 exists, or is a symbolic link (a dangling one too).
cq_exists() { [ -e "$1" ] || [ -L "$1" ]; }

# Each variable named (MCP_TMPDIR ...) is a directory from the contract that may be emptied: absolute, not /,
# no . or .. parts, existing. Fails (exit 2) naming the first one that is not.
cq_dir() {
  for cq_name in "$@"; do
    eval "cq_v=\${$cq_name:-}"
    case "$cq_v" in /*) ;; *) cq_fail "$cq_name is '$cq_v', not an absolute path";; esac
    cq_t=$cq_v
    while :; do case "$cq_t" in */) cq_t=${cq_t%/};; *) break;; esac; done
    [ -n "$cq_t" ] || cq_fail "$cq_name is '/'; refusing to clean the root directory"
    case "$cq_t/" in */./*|*/../*) cq_fail "$cq_name ($cq_v) has . or .. components";; esac
    [ -d "$cq_t" ] || cq_fail "$cq_name ($cq_v) is not a directory"
  done
}

# Removes the given paths (files or trees) when present. Prints LEFT <path> for what stays.
cq_remove() {
  for cq_f in "$@"; do
    cq_exists "$cq_f" || continue
    rm -rf -- "$cq_f" 2>/dev/null
    if cq_exists "$cq_f"; then echo "LEFT $cq_f"; fi
  done
}

# Removes the entries of directory $1 (not the directory: it may be a mount point or a process's cwd), except
# the names given after it. Prints LEFT <path> for what could not be removed.
cq_empty() {
  set +f
  cq_d=$1; shift
  for cq_e in "$cq_d"/* "$cq_d"/.[!.]* "$cq_d"/..?*; do
    cq_exists "$cq_e" || continue
    cq_keep=0
    for cq_k in "$@"; do [ "${cq_e##*/}" = "$cq_k" ] && cq_keep=1; done
    [ "$cq_keep" = 1 ] && continue
    cq_remove "$cq_e"
  done
}

# Prints FILE lines for the entries of directory $1 (at most $2), and MORE <n> in <dir> for the rest.
cq_list() {
  set +f
  cq_n=0
  for cq_f in "$1"/* "$1"/.[!.]* "$1"/..?*; do
    cq_exists "$cq_f" || continue
    [ "$cq_n" -lt "$2" ] && echo "FILE $cq_f"
    cq_n=$((cq_n + 1))
  done
  [ "$cq_n" -le "$2" ] || echo "MORE $(( cq_n - $2 )) in $1"
}

# Empties MCP_TMPDIR and removes the MCP output dir (CQ_OUTPUT_DIR under MCP_WORKDIR), printing LEFT lines.
cq_clear_temporary() {
  cq_empty "$MCP_TMPDIR"
  cq_remove "$MCP_WORKDIR/$CQ_OUTPUT_DIR"
}
