# Prints `FILE <name>`, then on the next line the base64 of bytes [$1, $1+$2) of each file $3... of the trace
# folder (CQ_TRACE_DIR under MCP_WORKDIR); offsets in bytes, whole 4 KiB blocks.
# shellcheck source=../../health/sh/includes/common.sh
. "$CQ_INCLUDES/common.sh"

cd "$MCP_WORKDIR/$CQ_TRACE_DIR" || exit 2
skip=$1; count=$2; shift 2
for f in "$@"; do
  echo "FILE $f"
  dd if="$f" bs=4096 skip=$((skip / 4096)) count=$(((count + 4095) / 4096)) 2>/dev/null | base64 -w0
  echo
done
