import type { ContainerRuntime } from '../runtime/container-runtime.js';

/**
 * Small read-only probes run inside a container (or process sandbox) through `runtime.exec`, relying only on
 * the exec environment contract (sh, ps, MCP_SERVER_PID, MCP_PORT).
 */

/** Prints the defunct (zombie) processes descending from the MCP server, one "pid comm" per line. */
const ZOMBIES_SCRIPT = `
ps -eo pid=,ppid=,stat=,comm= | awk -v root="$MCP_SERVER_PID" '
  { pid[NR]=$1; ppid[NR]=$2; stat[NR]=$3; comm[NR]=$4; parent[$1]=$2 }
  END {
    for (i = 1; i <= NR; i++) {
      if (substr(stat[i], 1, 1) != "Z") continue
      p = ppid[i]; hops = 0
      while (p != "" && p != root && p > 1 && hops < 64) { p = parent[p]; hops++ }
      if (p == root) print pid[i], comm[i]
    }
  }'
`;

/** Prints the number of established TCP connections to MCP_PORT (open MCP client sessions hold one each). */
const SESSIONS_SCRIPT = `
port_hex=$(printf '%04X' "$MCP_PORT")
cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=":$port_hex" '$2 ~ p"$" && $4 == "01" { n++ } END { print n + 0 }'
`;

export async function countZombies(runtime: ContainerRuntime, containerId: string, timeoutMs = 5_000): Promise<string[]> {
  const result = await runtime.exec(containerId, ['sh', '-c', ZOMBIES_SCRIPT], { timeoutMs });
  if (result.exitCode !== 0) throw new Error(`zombie probe failed in ${containerId}: ${result.stderr.trim() || `exit ${result.exitCode}`}`);
  return result.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

export async function countOpenSessions(runtime: ContainerRuntime, containerId: string, timeoutMs = 5_000): Promise<number> {
  const result = await runtime.exec(containerId, ['sh', '-c', SESSIONS_SCRIPT], { timeoutMs });
  const n = Number.parseInt(result.stdout.trim(), 10);
  if (result.exitCode !== 0 || !Number.isFinite(n)) throw new Error(`session probe failed in ${containerId}: ${result.stderr.trim() || result.stdout.trim()}`);
  return n;
}
