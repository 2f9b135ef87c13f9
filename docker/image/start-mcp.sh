#!/bin/sh
# Container entry point: starts the Origin/Host guard (mcp-guard.cjs) on the published port in the background,
# then the Playwright MCP server in the foreground as this shell's own pid (exec), so the pid written below
# stays the server's pid and `docker stop` signals reach it through the init process (HostConfig.Init /
# --init, which reaps Chromium's orphans).
# Extra arguments given to the container are appended to the server's command line.
set -eu

: "${MCP_PORT:?MCP_PORT must be set to the port the server listens on (the same number it is published on)}"

# The pid file lives in MCP_RUNDIR, a tmpfs of its own, so cleanup scripts that empty MCP_TMPDIR or MCP_HOME
# cannot delete it; mcp-exec reads it to give every exec its MCP_SERVER_PID.
echo "$$" >"$MCP_RUNDIR/server.pid"

cd "$MCP_WORKDIR"

# The server listens on loopback only, on a private port; the guard owns MCP_PORT (see mcp-guard.cjs for why).
# Any port other than MCP_PORT will do: nothing else listens in this container.
MCP_SERVER_PORT="${MCP_SERVER_PORT:-$((MCP_PORT == 39999 ? 39998 : 39999))}"
export MCP_SERVER_PORT
# Started from a subshell that exits at once, so the guard is re-parented to the init process: it must not
# be a descendant of the server, because cleanup treats every descendant of MCP_SERVER_PID as the holder's and
# ends it. For the same reason it does not carry the sandbox marker CINNAMON_QA_SANDBOX (cleanup also ends
# marked processes re-parented to init: what a holder double-forked). If the guard dies anyway, the
# HEALTHCHECK (which goes through it) turns the container unhealthy.
# Its pid goes next to the server's: in a container every other process without the marker is a holder's
# (one that cleared its environment), and cleanup ends it.
( unset CINNAMON_QA_SANDBOX; node /opt/mcp/mcp-guard.cjs & echo "$!" >"$MCP_RUNDIR/guard.pid" )
# The guard's key is the pool's public key (it verifies, it cannot sign): no secret, but the server, its browser
# and whatever they start have no use for it, so it stays out of their environment.
unset MCP_GUARD_KEY

cli="/opt/mcp/app/node_modules/@playwright/mcp/cli.js"
# --no-sandbox: the container drops every capability and sets no-new-privileges, so Chromium can neither
# create user namespaces nor use its setuid helper; the container boundary is the sandbox here.
# --allowed-hosts: clients connect to the published port on the host as localhost:PORT or 127.0.0.1:PORT,
# the guard listens on that same port number and forwards Host unchanged, so exactly those two Host headers
# are accepted (the guard already refuses the others; this keeps the server's own check meaningful).
set -- "$cli" \
  --config /opt/mcp/mcp-config.json \
  --headless --isolated --no-sandbox \
  --host 127.0.0.1 --port "$MCP_SERVER_PORT" \
  --allowed-hosts "localhost:$MCP_PORT,127.0.0.1:$MCP_PORT" \
  "$@"
# The image's ENV names the browser; when it is empty the Dockerfile recorded one it found in the base image;
# when that is empty too, Playwright looks for the browser matching its own version.
chromium="${CHROMIUM_EXECUTABLE_PATH:-}"
if [ -z "$chromium" ] && [ -r /opt/mcp/chromium-path ]; then
  chromium="$(cat /opt/mcp/chromium-path)"
fi
if [ -n "$chromium" ]; then
  set -- "$@" --executable-path "$chromium"
fi

exec node "$@"
