# Health probe: prints the defunct (zombie) processes descending from the MCP server, one "pid comm" per line.
# Uses MCP_SERVER_PID (exec environment contract, src/runtime/container-runtime.ts).
# shellcheck disable=SC2086 # `set -- $cq_line` splits a ps line into its fields on purpose (set -f).
# shellcheck source=includes/common.sh
. "$CQ_INCLUDES/common.sh"
# shellcheck source=includes/process-tree.sh
. "$CQ_INCLUDES/process-tree.sh"

cq_ps
set -f
cq_set=" $MCP_SERVER_PID "
cq_grow
IFS=$cq_nl
for cq_line in $cq_table; do
  IFS=$cq_ifs
  set -- $cq_line
  [ "$1" = "$MCP_SERVER_PID" ] && continue
  case "$3" in Z*) ;; *) continue;; esac
  case "$cq_set" in *" $1 "*) echo "$1 $4";; esac
done
IFS=$cq_ifs
