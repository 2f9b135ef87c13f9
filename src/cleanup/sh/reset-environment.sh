# Stage resetEnvironment: MCP_WORKDIR back to its initial state. Both runtimes start it empty (Docker mounts a
# fresh tmpfs over it, the process runtime creates the folder anew), so its initial state is "empty except the
# names given as arguments" — an allow-list rather than a manifest, because nothing writes there before the
# server. Prints LEFT lines and exits 1 for what could not be removed.
# shellcheck source=../../health/sh/includes/common.sh
. "$CQ_INCLUDES/common.sh"
# shellcheck source=includes/files.sh
. "$CQ_INCLUDES/files.sh"

cq_dir MCP_WORKDIR
out=$(cq_empty "$MCP_WORKDIR" "$@")
cq_exit_if_any "$out"
