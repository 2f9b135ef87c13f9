# Stage terminateBrowserProcesses: SIGTERM every browser process of this sandbox (cq_browser), SIGKILL what
# outlives the grace. $1: grace in ms. Prints SIGNAL and SURVIVOR lines; exit 1 when a process survives SIGKILL,
# 2 on a broken precondition (an ERROR line).
# shellcheck source=../../health/sh/includes/common.sh
. "$CQ_INCLUDES/common.sh"
# shellcheck source=../../health/sh/includes/process-tree.sh
. "$CQ_INCLUDES/process-tree.sh"
# shellcheck source=includes/browser.sh
. "$CQ_INCLUDES/browser.sh"

cq_end_browser "$1" 1 0 || exit 1
