# Medium reset: SIGKILL every browser process at once, empty MCP_TMPDIR (profiles, singleton sockets, the
# server's browser socket) and the MCP output dir, then check nothing of the browser is left and the server
# still runs and listens. Prints SIGNAL, SURVIVOR, LEFT, DOWN and PROC lines; exit 1 when the reset did not hold.
# shellcheck source=../../health/sh/includes/common.sh
. "$CQ_INCLUDES/common.sh"
# shellcheck source=../../health/sh/includes/process-tree.sh
. "$CQ_INCLUDES/process-tree.sh"
# shellcheck source=../../health/sh/includes/sockets.sh
. "$CQ_INCLUDES/sockets.sh"
# shellcheck source=includes/browser.sh
. "$CQ_INCLUDES/browser.sh"
# shellcheck source=includes/files.sh
. "$CQ_INCLUDES/files.sh"

cq_dir MCP_TMPDIR MCP_WORKDIR
cq_end_browser 0 1 0 || exit 1
out=$(cq_clear_temporary)
cq_exit_if_any "$out"
cq_server_up || exit 1
cq_no_browser || exit 1
