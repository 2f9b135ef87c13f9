# The processes of the last holder in this sandbox, and ending them. Needs common, process-tree and sockets.
#
# In the process runtime exec runs ON THE HOST, next to other pools' servers and browsers. So a process is the
# holder's only when it descends from MCP_SERVER_PID, when its environment carries this sandbox's exact marker
# (MCP_SANDBOX; what a holder double-forks is re-parented to init but keeps it), or (crashpad handlers) when its
# command line names this member's own MCP_HOME or MCP_TMPDIR, which are unique per sandbox; see cq_browser.
# Never `pkill`.
# shellcheck disable=SC2034,SC2154 # cq_ variables are shared with the other includes and the scripts; shellcheck -x checks each script with its includes.
# shellcheck disable=SC2086 # `set -- $cq_line` splits a ps line into its fields on purpose (with set -f).

# Sets cq_marked to " pid pid ... ": the processes whose initial environment holds exactly
# $CQ_MARKER_ENV=$MCP_SANDBOX (the loader sets CQ_MARKER_ENV from SANDBOX_MARKER_ENV). One grep reads every
# /proc/<pid>/environ (NUL-separated, hence -z; -x -F: the whole entry, literally, so a sandbox whose name
# merely starts with ours never matches).
# Processes of other users cannot be read, and cannot be ours.
cq_marked_pids() {
  command -v grep >/dev/null 2>&1 || cq_fail "grep is missing: the exec environment contract needs it"
  set +f
  cq_files=$(grep -lzxF -e "${CQ_MARKER_ENV}=$MCP_SANDBOX" /proc/[0-9]*/environ 2>/dev/null)
  set -f
  cq_marked=" "
  IFS=$cq_nl
  for cq_f in $cq_files; do
    cq_f=${cq_f#/proc/}; cq_marked="$cq_marked${cq_f%/environ} "
  done
  IFS=$cq_ifs
}

# Prints "pid ppid comm" for every live process of the last holder in this sandbox:
# - descendants of MCP_SERVER_PID (the browser and whatever the server started);
# - processes carrying this sandbox's marker (see cq_marked_pids), with their descendants: what a holder
#   double-forked from the server (browser_run_code_unsafe) is re-parented to init and is no descendant any
#   more, but keeps the environment it inherited. Never pid 1 (Docker's init carries the container's
#   environment), never the server, never this script's own exec session (every exec carries the marker
#   too): its ancestors, and the sessions started next to it — marked processes with the same parent as the
#   topmost marked ancestor of this script (Docker: pid 0, outside the container, so health checks and
#   other execs; process runtime: the pool's own process) — with their descendants. A holder cannot start a
#   process there: its orphans go to init or a subreaper. On the host the exact marker keeps the rule
#   inside this sandbox: other sandboxes' processes and the host's carry another value or none;
# - browser helpers re-parented to init whose command line names this member's MCP_HOME or MCP_TMPDIR
#   (found also when a holder cleared the environment of what it started);
# - with MCP_SANDBOX_SCOPE=container (Docker: the PID namespace is the sandbox), every process that carries
#   no marker at all except pid 1, MCP_GUARD_PID, browser helpers (the rule above covers them) and runc's
#   init of an exec being started (checked again just before it counts, so a process that ended after ps is
#   not taken for one): a holder that started something with an empty environment. Never on the host, where
#   unmarked processes are other people's.
cq_browser() {
  [ -n "${MCP_SERVER_PID:-}" ] || cq_fail "MCP_SERVER_PID is empty: the MCP server is not running"
  [ -n "${MCP_SANDBOX:-}" ] || cq_fail "MCP_SANDBOX is empty: the exec environment names no sandbox marker"
  cq_ps
  cq_marked_pids
  set -f
  # This script's ancestors; cq_top is the topmost of the unbroken run of marked ones (the exec session's
  # first process), cq_outer its parent.
  cq_anc=" "; cq_top=$$; cq_outer=""; cq_run=1; cq_p=$$
  while cq_ppid "$cq_p"; do
    cq_anc="$cq_anc$cq_p "
    # Used as it is when this script itself carries no marker.
    [ -n "$cq_outer" ] || cq_outer=$cq_pp
    if [ "$cq_run" = 1 ]; then
      case "$cq_marked" in *" $cq_p "*) cq_top=$cq_p; cq_outer=$cq_pp;; *) cq_run=0;; esac
    fi
    [ "$cq_pp" -gt 1 ] || break
    cq_p=$cq_pp
  done
  cq_set=" $cq_top "
  for cq_m in $cq_marked; do
    [ "$cq_m" = 1 ] || [ "$cq_m" = "$MCP_SERVER_PID" ] && continue
    cq_ppid "$cq_m" && [ "$cq_pp" = "$cq_outer" ] && cq_set="$cq_set$cq_m "
  done
  cq_grow
  cq_own="$cq_set$cq_anc"
  cq_set=" $MCP_SERVER_PID "
  for cq_m in $cq_marked; do
    case "$cq_own" in *" $cq_m "*) continue;; esac
    [ "$cq_m" = 1 ] || cq_set="$cq_set$cq_m "
  done
  if [ "${MCP_SANDBOX_SCOPE:-}" = container ]; then
    IFS=$cq_nl
    for cq_line in $cq_table; do
      IFS=$cq_ifs
      set -- $cq_line
      case "$cq_marked$cq_own" in *" $1 "*) continue;; esac
      [ "$1" = 1 ] || [ "$1" = "${MCP_GUARD_PID:-}" ] && continue
      # runc's init of an exec being started right now (a health check) has no environment yet; browser
      # helpers (Chromium starts crashpad with an environment of its own) keep the command-line rule below.
      case "$4" in runc*|chrom*|*crashpad*|headless_shell|*chrome*) continue;; esac
      # Read again: a process of a concurrent exec that ended after ps has no environ left to read.
      # grep: 0 = carries a marker after all, 1 = readable and without one, 2 = gone or unreadable.
      grep -qzF -e "${CQ_MARKER_ENV}=" "/proc/$1/environ" 2>/dev/null
      [ $? = 1 ] || continue
      cq_set="$cq_set$1 "
    done
    IFS=$cq_ifs
  fi
  cq_grow
  cq_tree=$cq_set
  cq_cands=""
  IFS=$cq_nl
  for cq_line in $cq_table; do
    IFS=$cq_ifs
    set -- $cq_line
    [ "$1" = "$MCP_SERVER_PID" ] && continue
    [ "$1" = 1 ] && continue
    case "$3" in Z*|X*) continue;; esac
    case "$cq_own" in *" $1 "*) continue;; esac
    cq_p=$1; cq_pp=$2; shift 3
    case "$cq_tree" in *" $cq_p "*) echo "$cq_p $cq_pp $*"; continue;; esac
    case "$*" in chrom*|*crashpad*|headless_shell|*chrome*) cq_cands="$cq_cands,$cq_p";; esac
  done
  IFS=$cq_ifs
  if [ -n "$cq_cands" ]; then
    cq_args=$(ps -o pid= -o ppid= -o comm= -o args= -p "${cq_cands#,}") || cq_args=""
    IFS=$cq_nl
    for cq_line in $cq_args; do
      IFS=$cq_ifs
      case "$cq_line" in *"$MCP_HOME/"*|*"$MCP_TMPDIR/"*) ;; *) continue;; esac
      set -- $cq_line
      echo "$1 $2 $3"
    done
    IFS=$cq_ifs
  fi
  set +f
}

# Sets cq_found to the output of cq_browser; a broken precondition there ends the script (exit 2, its ERROR line).
cq_find_browser() {
  cq_found=$(cq_browser) || { printf '%s\n' "$cq_found"; exit 2; }
}

# Prints PROC <pid> <comm> for every process cq_browser finds and returns 1 when there is one.
cq_no_browser() {
  cq_find_browser
  [ -n "$cq_found" ] || return 0
  printf '%s\n' "$cq_found" | while read -r cq_p cq_pp cq_c; do echo "PROC $cq_p $cq_c"; done
  return 1
}

# Signals the processes listed as "pid ppid comm" lines in $2 with signal $1, each only if it still runs
# under the same name (a pid freed and reused in between belongs to someone else).
cq_signal() {
  set -f
  cq_sig=$1
  IFS=$cq_nl
  for cq_line in $2; do
    IFS=$cq_ifs
    set -- $cq_line
    cq_live "$1" || continue
    [ "$cq_comm" = "$3" ] || continue
    kill "-$cq_sig" "$1" 2>/dev/null && echo "SIGNAL $cq_sig $1 $3"
  done
  IFS=$cq_ifs
}

# Sets cq_left to the lines of $1 ("pid ppid comm") whose process still runs.
cq_alive() {
  set -f
  cq_left=""
  IFS=$cq_nl
  for cq_line in $1; do
    IFS=$cq_ifs
    set -- $cq_line
    cq_live "$1" && [ "$cq_comm" = "$3" ] && cq_left="$cq_left$cq_line$cq_nl"
  done
  IFS=$cq_ifs
}

# Waits up to $2 ms (in 20 ms steps) for every process of $1 to end; sets cq_left to the survivors.
cq_wait() {
  cq_n=$(( ($2 + 19) / 20 ))
  cq_alive "$1"
  while [ -n "$cq_left" ] && [ "$cq_n" -gt 0 ]; do
    sleep 0.02
    cq_n=$((cq_n - 1))
    cq_alive "$cq_left"
  done
}

# Ends this server's browser. $1: grace in ms after SIGTERM; $2: 1 to SIGKILL what is left after the grace;
# $3: 1 to send SIGTERM only to the top processes (the browser then shuts its helpers down itself, cleanly).
# The process list is taken once, before any signal: a helper whose browser died is re-parented and would
# no longer look like a descendant. Prints SURVIVOR lines and returns 1 when something outlives it.
cq_end_browser() {
  cq_grace=$1; cq_kill=$2; cq_roots=$3
  cq_find_browser; cq_all=$cq_found
  [ -n "$cq_all" ] || return 0
  set -f
  cq_top=$cq_all
  if [ "$cq_roots" = 1 ]; then
    cq_pids=" "
    IFS=$cq_nl; for cq_line in $cq_all; do cq_pids="$cq_pids${cq_line%% *} "; done; IFS=$cq_ifs
    cq_top=""
    IFS=$cq_nl
    for cq_line in $cq_all; do
      IFS=$cq_ifs
      set -- $cq_line
      case "$cq_pids" in *" $2 "*) ;; *) cq_top="$cq_top$cq_line$cq_nl";; esac
    done
    IFS=$cq_ifs
  fi
  if [ "$cq_grace" -gt 0 ] || [ "$cq_kill" != 1 ]; then
    cq_signal TERM "$cq_top"
    cq_wait "$cq_all" "$cq_grace"
    if [ -n "$cq_left" ] && [ "$cq_roots" = 1 ]; then
      # The top processes went but left helpers behind (or ignored SIGTERM): ask every one of them.
      cq_signal TERM "$cq_left"
      cq_wait "$cq_left" "$cq_grace"
    fi
  else
    cq_left=$cq_all
  fi
  if [ -n "$cq_left" ] && [ "$cq_kill" = 1 ]; then
    cq_signal KILL "$cq_left"
    cq_wait "$cq_left" 1000
  fi
  [ -n "$cq_left" ] || { set +f; return 0; }
  IFS=$cq_nl
  for cq_line in $cq_left; do
    IFS=$cq_ifs
    set -- $cq_line
    echo "SURVIVOR $1 $3"
  done
  IFS=$cq_ifs
  set +f
  return 1
}

# The server answers: its process runs and a socket listens on its port.
cq_server_up() {
  cq_live "$MCP_SERVER_PID" || { echo "DOWN server process $MCP_SERVER_PID is not running"; return 1; }
  cq_listening || { echo "DOWN nothing listens on port $MCP_PORT"; return 1; }
  return 0
}
