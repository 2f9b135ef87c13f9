import type { CleanupResult } from '../cleanup/cleanup-types.js';
import type { ResetStrategy } from '../config/schemas.js';

/** How many times in a row recovery is tried before a container is left Unhealthy (quarantined). */
export const MAX_RECOVERY_ATTEMPTS = 3;

export interface AfterCleanupInput {
  cleanup: CleanupResult;
  /** cleanup.resetOnRelease: a reset every release asks for on top of cleanup. */
  resetOnRelease: ResetStrategy | 'none';
  /** The container was over its memory threshold while leased and still is after cleanup. */
  overMemory: boolean;
  /**
   * Why the member's guard could not be told the lease ended (member-fence.ts), if it could not: the old holder
   * may still reach the server, so only a restart (which restarts the guard, closed until fenced) will do.
   */
  fenceError?: string;
}

export type AfterCleanup =
  | { next: 'available' }
  /** `reason`: why, kept as the container's lastError (undefined when the reset is just resetOnRelease). */
  | { next: 'reset'; strategy: ResetStrategy; reason: string | undefined };

/**
 * What happens to a container after its cleanup: back to the pool, or which reset first.
 *
 * - Clean, no reset asked, not over memory: back to Available.
 * - A client still holding its MCP session survives a browser restart: only a hard reset (restart) drops it.
 * - A container that could not run a cleanup script in time cannot run the in-container resets either: hard.
 * - Over memory after cleanup (cleanup ends the browser, which frees most memory): hard.
 * - The guard was not told the lease ended (fence failed): hard, after cleanup all the same.
 * - Otherwise a failed cleanup gets 'medium', a clean one the configured resetOnRelease.
 */
export function afterCleanup({ cleanup, resetOnRelease, overMemory, fenceError }: AfterCleanupInput): AfterCleanup {
  if (cleanup.success && resetOnRelease === 'none' && !overMemory && fenceError === undefined) return { next: 'available' };
  const failedStages = cleanup.stages.filter((s) => !s.success).map((s) => s.stage);
  const reason =
    fenceError !== undefined
      ? `fence failed: ${fenceError}`
      : cleanup.success
        ? overMemory
          ? 'memory threshold exceeded: restart'
          : undefined
        : `cleanup failed: ${failedStages.join(', ') || 'error'}`;
  const sessionsOpen = (cleanup.stages.find((s) => s.stage === 'validateCleanup')?.openSessions ?? 0) > 0;
  const stuck = cleanup.stages.some((s) => s.stuck);
  const strategy: ResetStrategy =
    overMemory || sessionsOpen || stuck || fenceError !== undefined ? 'hard' : cleanup.success ? (resetOnRelease as ResetStrategy) : 'medium';
  return { next: 'reset', strategy, reason };
}

/** Whether recovery attempt number `attempt` (1-based, consecutive) may run, or the container is quarantined. */
export function recoveryStep(attempt: number): 'recover' | 'quarantine' {
  return attempt > MAX_RECOVERY_ATTEMPTS ? 'quarantine' : 'recover';
}
