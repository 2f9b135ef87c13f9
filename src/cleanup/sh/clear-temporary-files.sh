# Stage clearTemporaryFiles: everything in MCP_TMPDIR (both runtimes start it empty) and the MCP output dir
# (CQ_OUTPUT_DIR under MCP_WORKDIR). Prints LEFT lines and exits 1 for what could not be removed.
# shellcheck source=../../health/sh/includes/common.sh
. "$CQ_INCLUDES/common.sh"
# shellcheck source=includes/files.sh
. "$CQ_INCLUDES/files.sh"

cq_dir MCP_TMPDIR MCP_WORKDIR
out=$(cq_clear_temporary)
cq_exit_if_any "$out"
