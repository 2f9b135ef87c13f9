import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { lazyShellScripts, SHARED_SHELL_DIR, shellArgv } from './shell-script-loader.js';

/**
 * Small read-only probes run inside a container (or process sandbox) through `runtime.exec`, relying only on
 * the exec environment contract (sh, ps, MCP_SERVER_PID, MCP_PORT). The scripts are src/health/sh/*.sh; they
 * share the process-tree and socket functions with the cleanup scripts.
 */
const probeScript = lazyShellScripts(SHARED_SHELL_DIR, ['zombies', 'open-sessions'] as const);

/** The defunct (zombie) processes descending from the MCP server, one "pid comm" each. */
export async function countZombies(runtime: ContainerRuntime, containerId: string, timeoutMs = 5_000): Promise<string[]> {
  const result = await runtime.exec(containerId, shellArgv(probeScript('zombies')), { timeoutMs });
  if (result.exitCode !== 0) throw new Error(`zombie probe failed in ${containerId}: ${result.stderr.trim() || `exit ${result.exitCode}`}`);
  return result.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** The number of established TCP connections to MCP_PORT (open MCP client sessions hold one each). */
export async function countOpenSessions(runtime: ContainerRuntime, containerId: string, timeoutMs = 5_000): Promise<number> {
  const result = await runtime.exec(containerId, shellArgv(probeScript('open-sessions')), { timeoutMs });
  const n = Number.parseInt(result.stdout.trim(), 10);
  if (result.exitCode !== 0 || !Number.isFinite(n)) throw new Error(`session probe failed in ${containerId}: ${result.stderr.trim() || result.stdout.trim()}`);
  return n;
}
