#!/bin/sh
# Container entry point: starts the Playwright MCP server in the foreground as this shell's own pid (exec),
# so the pid written below stays the server's pid and `docker stop` signals reach it through the init process
# (HostConfig.Init / --init, which reaps Chromium's orphans).
# Extra arguments given to the container are appended to the server's command line.
set -eu

: "${MCP_PORT:?MCP_PORT must be set to the port the server listens on (the same number it is published on)}"

# The pid file lives in MCP_RUNDIR, a tmpfs of its own, so cleanup scripts that empty MCP_TMPDIR or MCP_HOME
# cannot delete it; mcp-exec reads it to give every exec its MCP_SERVER_PID.
echo "$$" >"$MCP_RUNDIR/server.pid"

cd "$MCP_WORKDIR"

cli="/opt/mcp/app/node_modules/@playwright/mcp/cli.js"
# --no-sandbox: the container drops every capability and sets no-new-privileges, so Chromium can neither
# create user namespaces nor use its setuid helper; the container boundary is the sandbox here.
# --allowed-hosts: clients connect to the published port on the host as localhost:PORT or 127.0.0.1:PORT,
# and the container listens on that same port number, so exactly those two Host headers are accepted.
set -- "$cli" \
  --config /opt/mcp/mcp-config.json \
  --headless --isolated --no-sandbox \
  --host 0.0.0.0 --port "$MCP_PORT" \
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
