#!/usr/bin/env bash
# `npm run test:stress`: the e2e project, STRESS_RUNS times in a row (default 3), while two busy-loop processes
# hold both cores of a 2-core machine. Shows that no e2e assertion depends on a quiet machine.
#   STRESS_RUNS         runs of the e2e project (default 3)
#   STRESS_BUSY_LOOPS   busy-loop processes (default 2)
#   STRESS_MAX_SECONDS  hard limit for the whole script; the busy loops end by then even if this script is
#                       killed with SIGKILL (default 3600)
# Extra arguments go to vitest (e.g. a file filter).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${STRESS_RUNS:-3}
loops=${STRESS_BUSY_LOOPS:-2}
max_seconds=${STRESS_MAX_SECONDS:-3600}
for value in "$runs" "$loops" "$max_seconds"; do
  [[ $value =~ ^[0-9]+$ ]] || { echo "stress: STRESS_RUNS, STRESS_BUSY_LOOPS and STRESS_MAX_SECONDS take whole numbers (got '$value')" >&2; exit 2; }
done
((runs > 0)) || { echo "stress: STRESS_RUNS must be at least 1" >&2; exit 2; }

busy_pids=()
run_pid=
stop_busy_loops() {
  local pid
  for pid in "${busy_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${busy_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  busy_pids=()
}
# A run goes on in the background and the script `wait`s for it: bash defers a trap until a foreground
# command ends, but a `wait` returns at once on a trapped signal.
stop_run() {
  [[ -n $run_pid ]] && kill "$run_pid" 2>/dev/null
  return 0
}
trap stop_busy_loops EXIT
trap 'echo "stress: interrupted" >&2; stop_run; exit 130' INT
trap 'echo "stress: terminated" >&2; stop_run; exit 143' TERM

# `timeout` bounds each loop on its own: nothing spins past the limit, whatever happens to this script.
for ((i = 0; i < loops; i++)); do
  timeout "$max_seconds" sh -c 'while :; do :; done' &
  busy_pids+=("$!")
done
echo "stress: ${#busy_pids[@]} busy loop(s) started (pids ${busy_pids[*]}), limit ${max_seconds} s; load $(cut -d' ' -f1-3 /proc/loadavg)"

started=$SECONDS
passed=0
for ((run = 1; run <= runs; run++)); do
  left=$((max_seconds - (SECONDS - started)))
  if ((left <= 0)); then
    echo "stress: run $run/$runs not started: the ${max_seconds} s limit is used up"
    continue
  fi
  run_started=$SECONDS
  status=pass
  timeout "$left" npx vitest run --project e2e "$@" &
  run_pid=$!
  wait "$run_pid" || status=fail
  run_pid=
  [[ $status == pass ]] && passed=$((passed + 1))
  echo "stress: run $run/$runs: $status in $((SECONDS - run_started)) s; load $(cut -d' ' -f1-3 /proc/loadavg)"
done

echo "stress: $((SECONDS - started)) s in all"
echo "stress: $passed/$runs e2e runs passed under ${loops} busy loops"
((passed == runs))
