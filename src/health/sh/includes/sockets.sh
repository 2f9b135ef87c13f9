# The MCP server's TCP sockets, read from /proc/net/tcp{,6} of the namespace the exec runs in (the
# container's, or the host's). Needs common.
# shellcheck disable=SC2086 # `set -- $cq_line` splits a /proc/net/tcp line into its fields on purpose.
# shellcheck disable=SC2034,SC2154 # cq_ variables are shared with the other includes and the scripts; shellcheck -x checks each script with its includes.

# Sets cq_hits to the "<remote>" words of the lines of /proc/net/tcp{,6} whose LOCAL port is MCP_PORT and
# whose state is cq_want (01 ESTABLISHED, 0A LISTEN).
cq_sockets() {
  cq_ph=$(printf '%04X' "$MCP_PORT")
  cq_hits=""
  cq_tab=$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null)
  set -f
  IFS=$cq_nl
  for cq_line in $cq_tab; do
    IFS=$cq_ifs
    case "$cq_line" in *":$cq_ph "*) ;; *) continue;; esac
    set -- $cq_line
    case "$2" in *":$cq_ph") ;; *) continue;; esac
    [ "$4" = "$cq_want" ] && cq_hits="$cq_hits $3"
  done
  IFS=$cq_ifs
  set +f
}

# Prints "CONN <remote>" for every ESTABLISHED connection to MCP_PORT (the server's side).
cq_conns() {
  cq_want=01; cq_sockets
  for cq_r in $cq_hits; do echo "CONN $cq_r"; done
}

# Succeeds when a socket listens on MCP_PORT.
cq_listening() {
  cq_want=0A; cq_sockets
  [ -n "$cq_hits" ]
}
