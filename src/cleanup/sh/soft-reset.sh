# Soft reset: SIGTERM to the browser's top processes only, so Chromium shuts down cleanly and takes its helpers
# with it; no SIGKILL (a browser that ignores SIGTERM is a medium reset's job). The server sees its browser
# disconnect and drops every session's browser context; each session's next tool call launches a fresh browser
# (verified with @playwright/mcp 0.0.83). Then checks the server still runs and listens. $1: grace in ms.
# Prints SIGNAL, SURVIVOR and DOWN lines; exit 1 when the reset did not hold.
# shellcheck source=../../health/sh/includes/common.sh
. "$CQ_INCLUDES/common.sh"
# shellcheck source=../../health/sh/includes/process-tree.sh
. "$CQ_INCLUDES/process-tree.sh"
# shellcheck source=../../health/sh/includes/sockets.sh
. "$CQ_INCLUDES/sockets.sh"
# shellcheck source=includes/browser.sh
. "$CQ_INCLUDES/browser.sh"

cq_end_browser "$1" 0 1 || exit 1
cq_server_up || exit 1
