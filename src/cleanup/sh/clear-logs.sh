# Stage clearLogs: files the server and browser leave as logs or crash output, anywhere under MCP_HOME or
# MCP_WORKDIR: *.log (chrome_debug.log with --enable-logging, debug logs), crash dumps (*.dmp, core, core.<pid>)
# and crash-report folders (Crash Reports, Crashpad) of browsers other than the ones clearCaches knows. The
# process runtime's server.log sits outside MCP_WORKDIR on purpose and is kept. Prints LEFT lines and exits 1
# for what could not be removed.
# shellcheck source=../../health/sh/includes/common.sh
. "$CQ_INCLUDES/common.sh"
# shellcheck source=includes/files.sh
. "$CQ_INCLUDES/files.sh"

cq_dir MCP_HOME MCP_WORKDIR
list=$(find "$MCP_HOME" "$MCP_WORKDIR" \( -type d \( -name 'Crash Reports' -o -name Crashpad \) -prune -print \) -o \
  \( -type f \( -name '*.log' -o -name '*.dmp' -o -name core -o -name 'core.[0-9]*' \) -print \) 2>/dev/null)
[ -n "$list" ] || exit 0
out=$(printf '%s\n' "$list" | while IFS= read -r f; do cq_remove "$f"; done)
cq_exit_if_any "$out"
