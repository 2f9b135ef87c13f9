/**
 * The POSIX `sh` scripts that cleanup and resets run inside a container (Docker) or next to a process sandbox
 * (process runtime) through `ContainerRuntime.exec`. They rely only on the exec environment contract
 * (src/runtime/container-runtime.ts): a POSIX `sh`, `ps` (procps), `find`, `grep` (with -z), /proc, the
 * variables MCP_HOME, MCP_TMPDIR, MCP_WORKDIR, MCP_SERVER_PID, MCP_PORT, MCP_SANDBOX, plus coreutils every
 * base image has (`rm`, `cat`, `sleep` with fractions of a second). That is what lets one implementation
 * serve both runtimes.
 *
 * Two facts shape them:
 * - In the process runtime exec runs ON THE HOST, next to other pools' servers and browsers. So a process is
 *   the holder's only when it descends from MCP_SERVER_PID, when its environment carries this sandbox's exact
 *   marker (MCP_SANDBOX; what a holder double-forks is re-parented to init but keeps it), or (crashpad
 *   handlers) when its command line names this member's own MCP_HOME or MCP_TMPDIR, which are unique per
 *   sandbox; see cq_browser. Never `pkill`. And every directory is checked before anything under it is removed.
 * - Scripts talk back in lines `KEYWORD value...` on stdout (see {@link parseScriptReport}); exit code 0 means
 *   done, 1 means the job could not be completed (the lines say why), 2 means a broken precondition.
 */

import { SANDBOX_MARKER_ENV } from '../runtime/sandbox-layout.js';

/**
 * Shared functions; every script starts with them. Names are prefixed `cq_` so they cannot clash. Tables
 * (ps output, /proc/net/tcp) are captured whole and walked with `for` over newline-split words rather than
 * `while read`: dash reads a pipe one byte per system call, which on a busy host (hundreds of processes,
 * a thousand sockets) costs more than everything else a soft reset does.
 */
const LIBRARY = `
set -u
cq_nl='
'
cq_ifs=$IFS

cq_fail() { echo "ERROR $*"; exit 2; }

# A directory from the contract that may be emptied: absolute, not /, no . or .. parts, existing.
cq_dir() {
  eval "cq_v=\\\${$1:-}"
  case "$cq_v" in /*) ;; *) cq_fail "$1 is '$cq_v', not an absolute path";; esac
  cq_t=$cq_v
  while :; do case "$cq_t" in */) cq_t=\${cq_t%/};; *) break;; esac; done
  [ -n "$cq_t" ] || cq_fail "$1 is '/'; refusing to clean the root directory"
  case "$cq_t/" in */./*|*/../*) cq_fail "$1 ($cq_v) has . or .. components";; esac
  [ -d "$cq_t" ] || cq_fail "$1 ($cq_v) is not a directory"
}

# Removes the entries of directory $1 (not the directory: it may be a mount point or a process's cwd), except
# the names given after it. Prints LEFT <path> for what could not be removed.
cq_empty() {
  set +f
  cq_d=$1; shift
  for cq_f in "$cq_d"/* "$cq_d"/.[!.]* "$cq_d"/..?*; do
    [ -e "$cq_f" ] || [ -L "$cq_f" ] || continue
    cq_keep=0
    for cq_k in "$@"; do [ "\${cq_f##*/}" = "$cq_k" ] && cq_keep=1; done
    [ "$cq_keep" = 1 ] && continue
    rm -rf -- "$cq_f" 2>/dev/null
    if [ -e "$cq_f" ] || [ -L "$cq_f" ]; then echo "LEFT $cq_f"; fi
  done
}

# Removes the given paths (files or trees) when present. Prints LEFT <path> for what stays.
cq_remove() {
  for cq_f in "$@"; do
    [ -e "$cq_f" ] || [ -L "$cq_f" ] || continue
    rm -rf -- "$cq_f" 2>/dev/null
    if [ -e "$cq_f" ] || [ -L "$cq_f" ]; then echo "LEFT $cq_f"; fi
  done
}

# Sets cq_state and cq_comm from /proc/<pid>/stat; fails when the process is gone or a zombie (a zombie
# holds nothing: it only waits for its parent to read its exit status).
cq_live() {
  cq_s=""
  read -r cq_s 2>/dev/null < "/proc/$1/stat" || return 1
  cq_comm=\${cq_s#*"("}; cq_comm=\${cq_comm%")"*}
  cq_state=\${cq_s##*") "}; cq_state=\${cq_state%% *}
  case "$cq_state" in Z*|X*|x*) return 1;; esac
  return 0
}

# Sets cq_pp to the parent pid of process $1, read from /proc/$1/stat (no fork); fails when it is gone.
cq_ppid() {
  cq_s=""
  read -r cq_s 2>/dev/null < "/proc/$1/stat" || return 1
  cq_s=\${cq_s##*") "}; cq_s=\${cq_s#* }; cq_pp=\${cq_s%% *}
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

# Sets cq_marked to " pid pid ... ": the processes whose initial environment holds exactly
# ${SANDBOX_MARKER_ENV}=$MCP_SANDBOX. One grep reads every /proc/<pid>/environ (NUL-separated, hence -z;
# -x -F: the whole entry, literally, so a sandbox whose name merely starts with ours never matches).
# Processes of other users cannot be read, and cannot be ours.
cq_marked_pids() {
  command -v grep >/dev/null 2>&1 || cq_fail "grep is missing: the exec environment contract needs it"
  set +f
  cq_files=$(grep -lzxF -e "${SANDBOX_MARKER_ENV}=$MCP_SANDBOX" /proc/[0-9]*/environ 2>/dev/null)
  set -f
  cq_marked=" "
  IFS=$cq_nl
  for cq_f in $cq_files; do
    cq_f=\${cq_f#/proc/}; cq_marked="$cq_marked\${cq_f%/environ} "
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
  [ -n "\${MCP_SERVER_PID:-}" ] || cq_fail "MCP_SERVER_PID is empty: the MCP server is not running"
  [ -n "\${MCP_SANDBOX:-}" ] || cq_fail "MCP_SANDBOX is empty: the exec environment names no sandbox marker"
  cq_table=$(ps -e -o pid= -o ppid= -o stat= -o comm=) || cq_fail "ps failed"
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
  if [ "\${MCP_SANDBOX_SCOPE:-}" = container ]; then
    IFS=$cq_nl
    for cq_line in $cq_table; do
      IFS=$cq_ifs
      set -- $cq_line
      case "$cq_marked$cq_own" in *" $1 "*) continue;; esac
      [ "$1" = 1 ] || [ "$1" = "\${MCP_GUARD_PID:-}" ] && continue
      # runc's init of an exec being started right now (a health check) has no environment yet; browser
      # helpers (Chromium starts crashpad with an environment of its own) keep the command-line rule below.
      case "$4" in runc*|chrom*|*crashpad*|headless_shell|*chrome*) continue;; esac
      # Read again: a process of a concurrent exec that ended after ps has no environ left to read.
      # grep: 0 = carries a marker after all, 1 = readable and without one, 2 = gone or unreadable.
      grep -qzF -e "${SANDBOX_MARKER_ENV}=" "/proc/$1/environ" 2>/dev/null
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
    cq_args=$(ps -o pid= -o ppid= -o comm= -o args= -p "\${cq_cands#,}") || cq_args=""
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
  cq_all=$(cq_browser) || { printf '%s\\n' "$cq_all"; exit 2; }
  [ -n "$cq_all" ] || return 0
  set -f
  cq_top=$cq_all
  if [ "$cq_roots" = 1 ]; then
    cq_pids=" "
    IFS=$cq_nl; for cq_line in $cq_all; do cq_pids="$cq_pids\${cq_line%% *} "; done; IFS=$cq_ifs
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

# Lines of /proc/net/tcp{,6} whose LOCAL port is MCP_PORT and whose state is $1 (01 ESTABLISHED, 0A LISTEN),
# as "<remote>" words in cq_hits. Read from the namespace the exec runs in: the container's, or the host's.
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

# The server answers: its process runs and a socket listens on its port.
cq_server_up() {
  cq_live "$MCP_SERVER_PID" || { echo "DOWN server process $MCP_SERVER_PID is not running"; return 1; }
  cq_listening || { echo "DOWN nothing listens on port $MCP_PORT"; return 1; }
  return 0
}

# Prints FILE lines for the entries of directory $1 (at most $2).
cq_list() {
  set +f
  cq_n=0
  for cq_f in "$1"/* "$1"/.[!.]* "$1"/..?*; do
    [ -e "$cq_f" ] || [ -L "$cq_f" ] || continue
    [ "$cq_n" -lt "$2" ] && echo "FILE $cq_f"
    cq_n=$((cq_n + 1))
  done
  [ "$cq_n" -le "$2" ] || echo "MORE $(( cq_n - $2 )) in $1"
}
`;

/** Where @playwright/mcp writes snapshots, console logs and screenshots, under its working directory. */
export const MCP_OUTPUT_DIR = '.playwright-mcp';

/** How many leftover files a validation names before it summarises the rest. */
const LISTED_FILES = 10;

function script(body: string): string {
  return `${LIBRARY}\n${body.trim()}\n`;
}

function integer(name: string, value: number): string {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  return String(value);
}

/** argv of one script run: `sh -c <script> cq <args...>`; arguments stay data (never spliced into code). */
function argv(body: string, args: readonly string[] = []): string[] {
  return ['sh', '-c', script(body), 'cq', ...args];
}

/** Stage terminateBrowserProcesses: SIGTERM every browser process, SIGKILL what outlives `graceMs`. */
export function terminateBrowserArgv(graceMs: number): string[] {
  return argv(`cq_end_browser "$1" 1 0 || exit 1`, [integer('graceMs', graceMs)]);
}

/** Stage clearTemporaryFiles: everything in MCP_TMPDIR (both runtimes start it empty) and the MCP output dir. */
export function clearTemporaryFilesArgv(): string[] {
  return argv(
    `
cq_dir MCP_TMPDIR
cq_dir MCP_WORKDIR
out=$( cq_empty "$MCP_TMPDIR"; cq_remove "$MCP_WORKDIR/${MCP_OUTPUT_DIR}" )
[ -z "$out" ] || { printf '%s\\n' "$out"; exit 1; }
`,
  );
}

/**
 * Stage clearCaches: everything under MCP_HOME. That is where @playwright/mcp 0.0.83 and Chromium keep
 * profiles and caches (.cache with the ms-playwright registry, fontconfig, dconf and the disk cache;
 * .config/<browser>; .pki; .local/share; mcp-chrome-* and playwright_chromiumdev_profile-* profiles), and
 * also where a test's own files land when it writes to "~". Neither runtime keeps anything of its own there
 * (the process runtime's server.log sits next to the home folder, Docker's pid file in MCP_RUNDIR), so the
 * whole home is emptied rather than a list of known browser paths that a holder's file would slip past.
 */
export function clearCachesArgv(): string[] {
  return argv(
    `
cq_dir MCP_HOME
out=$( cq_empty "$MCP_HOME" )
[ -z "$out" ] || { printf '%s\\n' "$out"; exit 1; }
`,
  );
}

/**
 * Stage clearLogs: files the server and browser leave as logs or crash output, anywhere under MCP_HOME or
 * MCP_WORKDIR: *.log (chrome_debug.log with --enable-logging, debug logs), crash dumps (*.dmp, core,
 * core.<pid>) and crash-report folders (Crash Reports, Crashpad) of browsers other than the ones clearCaches
 * knows. The process runtime's server.log sits outside MCP_WORKDIR on purpose and is kept.
 */
export function clearLogsArgv(): string[] {
  return argv(
    `
cq_dir MCP_HOME
cq_dir MCP_WORKDIR
list=$(find "$MCP_HOME" "$MCP_WORKDIR" \\( -type d \\( -name 'Crash Reports' -o -name Crashpad \\) -prune -print \\) -o \\
  \\( -type f \\( -name '*.log' -o -name '*.dmp' -o -name core -o -name 'core.[0-9]*' \\) -print \\) 2>/dev/null)
[ -n "$list" ] || exit 0
out=$(printf '%s\\n' "$list" | while IFS= read -r f; do cq_remove "$f"; done)
[ -z "$out" ] || { printf '%s\\n' "$out"; exit 1; }
`,
  );
}

/**
 * Stage resetEnvironment: MCP_WORKDIR back to its initial state. Both runtimes start it empty (Docker mounts
 * a fresh tmpfs over it, the process runtime creates the folder anew), so its initial state is "empty except
 * the names in `keep`" — an allow-list rather than a manifest, because nothing writes there before the server.
 */
export function resetEnvironmentArgv(keep: readonly string[]): string[] {
  for (const name of keep) {
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\n')) {
      throw new RangeError(`workdir keep-list entry ${JSON.stringify(name)} must be a plain file name`);
    }
  }
  return argv(
    `
cq_dir MCP_WORKDIR
out=$(cq_empty "$MCP_WORKDIR" "$@")
[ -z "$out" ] || { printf '%s\\n' "$out"; exit 1; }
`,
    keep,
  );
}

/**
 * Stage validateCleanup: no browser process of this server, nothing in MCP_TMPDIR or the MCP output dir, and
 * (when `drainMs` is given) no ESTABLISHED connection to MCP_PORT. Idle HTTP keep-alive connections of a
 * client that has already gone look the same as an open MCP stream, so connections get `drainMs` to close —
 * the server itself closes an idle one after Node's 5 s keep-alive timeout; one still open then is a client
 * that holds its session. Without `drainMs` connections are not looked at (an injected session count is used).
 */
export function validateArgv(drainMs: number | undefined): string[] {
  return argv(
    `
cq_dir MCP_TMPDIR
cq_dir MCP_WORKDIR
bad=0
procs=$(cq_browser) || { printf '%s\\n' "$procs"; exit 2; }
if [ -n "$procs" ]; then
  printf '%s\\n' "$procs" | while read -r p pp c; do echo "PROC $p $c"; done
  bad=1
fi
files=$(cq_list "$MCP_TMPDIR" ${LISTED_FILES}; [ -d "$MCP_WORKDIR/${MCP_OUTPUT_DIR}" ] && cq_list "$MCP_WORKDIR/${MCP_OUTPUT_DIR}" ${LISTED_FILES})
if [ -n "$files" ]; then printf '%s\\n' "$files"; bad=1; fi
[ "$bad" = 0 ] || exit 1
[ "$1" = none ] && exit 0
n=$(( ($1 + 49) / 50 ))
conns=$(cq_conns)
while [ -n "$conns" ] && [ "$n" -gt 0 ]; do
  sleep 0.05
  n=$((n - 1))
  conns=$(cq_conns)
done
[ -z "$conns" ] || { printf '%s\\n' "$conns"; exit 1; }
`,
    [drainMs === undefined ? 'none' : integer('drainMs', drainMs)],
  );
}

/**
 * Soft reset: SIGTERM to the browser's top processes only, so Chromium shuts down cleanly and takes its
 * helpers with it; no SIGKILL (a browser that ignores SIGTERM is a medium reset's job). The server sees its
 * browser disconnect and drops every session's browser context; each session's next tool call launches a fresh
 * browser (verified with @playwright/mcp 0.0.83). Then checks the server still runs and listens.
 */
export function softResetArgv(graceMs: number): string[] {
  return argv(
    `
cq_end_browser "$1" 0 1 || exit 1
cq_server_up || exit 1
`,
    [integer('graceMs', graceMs)],
  );
}

/**
 * Medium reset: SIGKILL every browser process at once, empty MCP_TMPDIR (profiles, singleton sockets, the
 * server's browser socket) and the MCP output dir, then check nothing of the browser is left and the server
 * still runs and listens.
 */
export function mediumResetArgv(): string[] {
  return argv(
    `
cq_dir MCP_TMPDIR
cq_dir MCP_WORKDIR
cq_end_browser 0 1 0 || exit 1
out=$( cq_empty "$MCP_TMPDIR"; cq_remove "$MCP_WORKDIR/${MCP_OUTPUT_DIR}" )
[ -z "$out" ] || { printf '%s\\n' "$out"; exit 1; }
cq_server_up || exit 1
procs=$(cq_browser) || { printf '%s\\n' "$procs"; exit 2; }
[ -z "$procs" ] || { printf '%s\\n' "$procs" | while read -r p pp c; do echo "PROC $p $c"; done; exit 1; }
`,
  );
}

/** What a script reported, line by line. */
export interface ScriptReport {
  /** Signals sent: `TERM 123 chromium`. */
  signals: string[];
  /** Browser processes that outlived SIGKILL (or SIGTERM for a soft reset): `123 chromium`. */
  survivors: string[];
  /** Browser processes found by a check: `123 chromium`. */
  processes: string[];
  /** Paths that could not be removed. */
  left: string[];
  /** Leftover files found by a check (with `N more in <dir>` summaries). */
  files: string[];
  /** Remote ends of open connections to the server's port, as `address:port`. */
  connections: string[];
  /** Why the server does not answer. */
  down: string[];
  /** Broken preconditions (unset variables, unsafe directories). */
  errors: string[];
}

/** Splits a script's stdout into its report lines; unknown lines are ignored. */
export function parseScriptReport(stdout: string): ScriptReport {
  const report: ScriptReport = { signals: [], survivors: [], processes: [], left: [], files: [], connections: [], down: [], errors: [] };
  for (const line of stdout.split('\n')) {
    const space = line.indexOf(' ');
    if (space < 0) continue;
    const key = line.slice(0, space);
    const rest = line.slice(space + 1).trim();
    switch (key) {
      case 'SIGNAL':
        report.signals.push(rest);
        break;
      case 'SURVIVOR':
        report.survivors.push(rest);
        break;
      case 'PROC':
        report.processes.push(rest);
        break;
      case 'LEFT':
        report.left.push(rest);
        break;
      case 'FILE':
        report.files.push(rest);
        break;
      case 'MORE':
        report.files.push(`${rest.split(' ')[0]} more ${rest.slice(rest.indexOf(' ') + 1)}`);
        break;
      case 'CONN':
        report.connections.push(decodeProcNetAddress(rest));
        break;
      case 'DOWN':
        report.down.push(rest);
        break;
      case 'ERROR':
        report.errors.push(rest);
        break;
    }
  }
  return report;
}

/**
 * `0100007F:963E` → `127.0.0.1:38462`; IPv6 (32 hex digits, four little-endian words) → `[::ffff:…]:port`.
 * /proc/net/tcp prints addresses in the kernel's byte order, which is little-endian on every machine we run.
 */
export function decodeProcNetAddress(hex: string): string {
  const [address = '', portHex = ''] = hex.split(':');
  const port = Number.parseInt(portHex, 16);
  if (address.length === 8) {
    const bytes = [6, 4, 2, 0].map((i) => Number.parseInt(address.slice(i, i + 2), 16));
    return `${bytes.join('.')}:${port}`;
  }
  if (address.length === 32) {
    const groups: string[] = [];
    for (let word = 0; word < 4; word++) {
      const w = address.slice(word * 8, word * 8 + 8);
      // Each 32-bit word is little-endian: reverse its bytes, then split into two 16-bit groups.
      const be = [6, 4, 2, 0].map((i) => w.slice(i, i + 2)).join('');
      groups.push(be.slice(0, 4), be.slice(4, 8));
    }
    const v4Mapped = groups.slice(0, 5).every((g) => g === '0000') && groups[5]?.toLowerCase() === 'ffff';
    if (v4Mapped) {
      const tail = address.slice(24, 32);
      const bytes = [6, 4, 2, 0].map((i) => Number.parseInt(tail.slice(i, i + 2), 16));
      return `[::ffff:${bytes.join('.')}]:${port}`;
    }
    return `[${groups.map((g) => g.replace(/^0+(?=.)/, '')).join(':').toLowerCase()}]:${port}`;
  }
  return hex;
}
