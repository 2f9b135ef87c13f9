# Reading processes from /proc and ps without a fork per process. Needs common.
# shellcheck disable=SC2086 # `set -- $cq_line` splits a ps line into its fields on purpose (callers set -f).
# shellcheck disable=SC2034,SC2154 # cq_ variables are shared with the other includes and the scripts; shellcheck -x checks each script with its includes.

# Sets cq_table to "pid ppid stat comm" per process.
cq_ps() {
  cq_table=$(ps -e -o pid= -o ppid= -o stat= -o comm=) || cq_fail "ps failed"
}

# Sets cq_state and cq_comm from /proc/<pid>/stat; fails when the process is gone or a zombie (a zombie
# holds nothing: it only waits for its parent to read its exit status).
cq_live() {
  cq_s=""
  read -r cq_s 2>/dev/null < "/proc/$1/stat" || return 1
  cq_comm=${cq_s#*"("}; cq_comm=${cq_comm%")"*}
  cq_state=${cq_s##*") "}; cq_state=${cq_state%% *}
  case "$cq_state" in Z*|X*|x*) return 1;; esac
  return 0
}

# Sets cq_pp to the parent pid of process $1, read from /proc/$1/stat (no fork); fails when it is gone.
cq_ppid() {
  cq_s=""
  read -r cq_s 2>/dev/null < "/proc/$1/stat" || return 1
  cq_s=${cq_s##*") "}; cq_s=${cq_s#* }; cq_pp=${cq_s%% *}
}

# Adds to cq_set (" pid pid ... ") every descendant of its members found in cq_table. ps lists by pid and
# children mostly come after their parents, so one pass finds nearly all of a tree; the loop runs until a
# pass adds nothing. Expects set -f.
cq_grow() {
  cq_grew=1
  while [ "$cq_grew" = 1 ]; do
    cq_grew=0
    IFS=$cq_nl
    for cq_line in $cq_table; do
      IFS=$cq_ifs
      set -- $cq_line
      case "$cq_set" in *" $1 "*) continue;; esac
      case "$cq_set" in *" $2 "*) cq_set="$cq_set$1 "; cq_grew=1;; esac
    done
    IFS=$cq_ifs
  done
}
