import type { ResetStrategy } from '../config/schemas.js';
import { PoolError } from '../errors/pool-error.js';
import type { CleanupStage } from './cleanup-types.js';
import type { ScriptReport } from './script-report.js';

/** At most this many items are named in one message; the rest are counted. */
const NAMED = 5;

function named(items: readonly string[]): string {
  const shown = items.slice(0, NAMED).join(', ');
  return items.length > NAMED ? `${shown} and ${items.length - NAMED} more` : shown;
}

/** What a script report says is wrong, as one clause per kind of problem (empty when nothing is). */
export function describeReport(report: ScriptReport): string[] {
  const problems: string[] = [];
  if (report.errors.length) problems.push(report.errors.join('; '));
  if (report.survivors.length) problems.push(`browser process(es) still running after the signals: ${named(report.survivors)}`);
  if (report.processes.length) problems.push(`browser process(es) of the MCP server running: ${named(report.processes)}`);
  if (report.left.length) problems.push(`could not remove ${named(report.left)}`);
  if (report.files.length) problems.push(`temporary files remain: ${named(report.files)}`);
  if (report.connections.length) {
    problems.push(`${report.connections.length} connection(s) to the MCP port still open (an MCP client holds its session) from ${named(report.connections)}`);
  }
  if (report.down.length) problems.push(`the MCP server does not answer: ${report.down.join('; ')}`);
  return problems;
}

const STAGE_FIXES: Record<CleanupStage, string> = {
  terminateBrowserProcesses:
    'a process that survives SIGKILL is stuck in the kernel (uninterruptible I/O); a hard reset (restart) of the container clears it',
  clearTemporaryFiles: 'check that MCP_TMPDIR and MCP_WORKDIR belong to the server user and are writable; a medium reset retries',
  clearCaches: 'check that MCP_HOME belongs to the server user and is writable; a hard reset starts from a fresh HOME in Docker',
  clearLogs: 'check that MCP_HOME and MCP_WORKDIR belong to the server user and are writable',
  resetEnvironment: 'check that MCP_WORKDIR belongs to the server user and is writable; recovery (recreate) restores it',
  validateCleanup:
    'release the container only after closing the MCP client (transport.terminateSession(), then client.close()); ' +
    'a client still connected keeps its session and can re-launch the browser; a hard reset (restart) drops every session',
};

/** The fix for a container that cannot run the cleanup's commands at all (see CleanupStageResult.stuck). */
export const STUCK_CONTAINER_FIX = 'a hard reset (restart) of the container ends every process in it; the pool does that next';

/**
 * CLEANUP_FAILED for one stage: names the container, the stage, what was seen and what to do (the stage's
 * usual fix unless `fix` is given).
 */
export function cleanupStageError(containerId: string, stage: CleanupStage, what: string, cause?: unknown, fix: string = STAGE_FIXES[stage]): PoolError {
  return new PoolError(
    'CLEANUP_FAILED',
    `Cleanup of container ${containerId} failed at stage ${stage}: ${what}. Fix: ${fix}.`,
    { containerId, stage },
    cause === undefined ? undefined : { cause },
  );
}

const RESET_FIXES: Partial<Record<ResetStrategy, string>> = {
  soft: 'the reset escalates to medium (SIGKILL of the browser) by itself',
  medium: 'the reset escalates to hard (restart of the container) by itself',
  hard: 'the reset escalates to recovery (recreate) by itself',
  recovery: "every strategy failed: look at the container's logs (docker logs, or server.log in the process sandbox) and at the runtime's limits",
};

/** RESET_FAILED for one attempt: names the container, the strategy, what was seen and what to do. */
export function resetAttemptError(containerId: string, strategy: ResetStrategy, what: string, cause?: unknown): PoolError {
  return new PoolError(
    'RESET_FAILED',
    `Reset (${strategy}) of container ${containerId} failed: ${what}. Fix: ${RESET_FIXES[strategy] ?? 'pass one of soft, medium, hard, recovery'}.`,
    { containerId, strategy },
    cause === undefined ? undefined : { cause },
  );
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
