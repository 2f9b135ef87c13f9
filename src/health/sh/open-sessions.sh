# Health probe: prints the number of ESTABLISHED TCP connections to MCP_PORT (an open MCP client session
# holds one each). Uses MCP_PORT (exec environment contract, src/runtime/container-runtime.ts).
# shellcheck source=includes/common.sh
. "$CQ_INCLUDES/common.sh"
# shellcheck source=includes/sockets.sh
. "$CQ_INCLUDES/sockets.sh"

cq_want=01
cq_sockets
# shellcheck disable=SC2086 # one word per connection: counting them is the point.
set -- $cq_hits
echo "$#"
