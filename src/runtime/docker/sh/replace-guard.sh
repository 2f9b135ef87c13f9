#!/bin/sh
# Runs in a pool container through mcp-exec (docker/image/mcp-exec): replaces the container's guard
# (docker/image/mcp-guard.cjs) with a new one that checks credentials against another pool key, for a warm
# member a new run takes over (issue 13): the old run's private key is gone, so nothing could ever pass the old
# guard again. The new guard starts closed until the pool fences it, like one started by start-mcp.sh.
# With an idle time it also stops the member after that long without a connection: it ends the server's
# process group (the server is init's child and leads its own group), the container then exits.
# Arguments: $1 the pool's public key (base64 DER SPKI, no secret), $2 the idle stop in ms (0: none).
# Prints `GUARD <pid>`; exit 2 when the old guard's settings cannot be read.
set -eu

key="$1"
idle_ms="$2"
old="$(cat "$MCP_RUNDIR/guard.pid" 2>/dev/null || true)"

# start-mcp.sh chose the server's private port and gave it to the guard only: read it from the old guard.
server_port=""
if [ -n "$old" ] && [ -r "/proc/$old/environ" ]; then
  server_port="$(tr '\0' '\n' <"/proc/$old/environ" | sed -n 's/^MCP_SERVER_PORT=//p')"
fi
if [ -z "$server_port" ]; then
  echo "ERROR the old guard (pid ${old:-none}) is not running: its server port is unknown"
  exit 2
fi
pgid="$(ps -o pgid= -p "$MCP_SERVER_PID" | tr -d ' ')"

# The port is the old guard's until it exits: TERM, then KILL after 5 s.
kill -TERM "$old" 2>/dev/null || true
waited=0
while kill -0 "$old" 2>/dev/null; do
  waited=$((waited + 1))
  if [ "$waited" -eq 100 ]; then kill -KILL "$old" 2>/dev/null || true; fi
  sleep 0.05
done

# As in start-mcp.sh: from a subshell that exits at once, so the guard is re-parented to init and is no
# descendant of the server, without the sandbox marker; its output goes where the first guard's went (the
# container's log), and nothing holds this exec's output open.
(
  unset CINNAMON_QA_SANDBOX
  MCP_GUARD_KEY="$key" MCP_SERVER_PORT="$server_port" MCP_GUARD_IDLE_MS="$idle_ms" MCP_GUARD_IDLE_PGID="$pgid" \
    node /opt/mcp/mcp-guard.cjs </dev/null >/proc/1/fd/1 2>/proc/1/fd/2 &
  echo "$!" >"$MCP_RUNDIR/guard.pid"
)
echo "GUARD $(cat "$MCP_RUNDIR/guard.pid")"
