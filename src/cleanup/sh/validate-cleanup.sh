# Stage validateCleanup: no browser process of this server (PROC lines), nothing in MCP_TMPDIR or the MCP output
# dir (FILE and MORE lines, at most CQ_LISTED_FILES named per folder), and, unless $1 is `none`, no ESTABLISHED
# connection to MCP_PORT after waiting up to $1 ms for them to close (CONN lines). Idle HTTP keep-alive
# connections of a client that has already gone look the same as an open MCP stream, so connections get that
# time to close. Exit 1 when something remains, 2 on a broken precondition.
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
bad=0
cq_no_browser || bad=1
out_dir=$MCP_WORKDIR/$CQ_OUTPUT_DIR
files=$(cq_list "$MCP_TMPDIR" "$CQ_LISTED_FILES"; [ -d "$out_dir" ] && cq_list "$out_dir" "$CQ_LISTED_FILES")
if [ -n "$files" ]; then printf '%s\n' "$files"; bad=1; fi
[ "$bad" = 0 ] || exit 1
[ "$1" = none ] && exit 0
n=$(( ($1 + 49) / 50 ))
conns=$(cq_conns)
while [ -n "$conns" ] && [ "$n" -gt 0 ]; do
  sleep 0.05
  n=$((n - 1))
  conns=$(cq_conns)
done
cq_exit_if_any "$conns"
