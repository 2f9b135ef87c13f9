# Lists the trace folder (CQ_TRACE_DIR under MCP_WORKDIR, the exec's working directory in both runtimes):
# `<size> <path>` per file; nothing when there is no such folder.
# shellcheck source=../../health/sh/includes/common.sh
. "$CQ_INCLUDES/common.sh"

d="$MCP_WORKDIR/$CQ_TRACE_DIR"
[ -d "$d" ] || exit 0
cd "$d" && find . -type f -printf '%s %P\n'
