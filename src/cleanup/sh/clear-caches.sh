# Stage clearCaches: everything under MCP_HOME. That is where @playwright/mcp 0.0.83 and Chromium keep profiles
# and caches (.cache with the ms-playwright registry, fontconfig, dconf and the disk cache; .config/<browser>;
# .pki; .local/share; mcp-chrome-* and playwright_chromiumdev_profile-* profiles), and also where a test's own
# files land when it writes to "~". Neither runtime keeps anything of its own there (the process runtime's
# server.log sits next to the home folder, Docker's pid file in MCP_RUNDIR), so the whole home is emptied rather
# than a list of known browser paths that a holder's file would slip past. Prints LEFT lines and exits 1 for what
# could not be removed.
# shellcheck source=../../health/sh/includes/common.sh
. "$CQ_INCLUDES/common.sh"
# shellcheck source=includes/files.sh
. "$CQ_INCLUDES/files.sh"

cq_dir MCP_HOME
out=$(cq_empty "$MCP_HOME")
cq_exit_if_any "$out"
