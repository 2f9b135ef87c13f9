# Included first by every sandbox script (see src/health/shell-script-loader.ts). Names are prefixed cq_ so
# they cannot clash with the exec environment's. Tables (ps output, the kernel's socket tables) are captured
# whole and walked with `for` over newline-split words rather than `while read`: dash reads a pipe one byte
# per system call, which on a busy host (hundreds of processes, a thousand sockets) costs more than
# everything else a soft reset does.
# shellcheck disable=SC2034,SC2154 # cq_ variables are shared with the other includes and the scripts; shellcheck -x checks each script with its includes.
set -u
cq_nl='
'
cq_ifs=$IFS

# A broken precondition: says why and exits 2.
cq_fail() { echo "ERROR $*"; exit 2; }

# Prints $1 and exits 1 when it is not empty: the report lines of a job that could not be completed.
cq_exit_if_any() {
  [ -z "$1" ] || { printf '%s\n' "$1"; exit 1; }
}
