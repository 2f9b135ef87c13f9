import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay } from '../../clock/backoff.js';
import { groupMembers } from '../proc-table.js';

/** @defaultValue 5000 ms between SIGTERM and SIGKILL. */
export const DEFAULT_KILL_GRACE_MS = 5_000;

/** How long to wait for the kernel to finish a SIGKILL before giving up and reporting survivors. */
const AFTER_SIGKILL_WAIT_MS = 3_000;

export interface TerminateResult {
  /** Which signal ended the group: 'none' when it was already gone. */
  endedBy: 'none' | 'SIGTERM' | 'SIGKILL';
  /** Pids still alive after SIGKILL (should be empty; a process in uninterruptible sleep can linger). */
  survivors: number[];
}

/** Sends `signal` to every process of the group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/**
 * Ends a whole process group: SIGTERM, then SIGKILL after `graceMs`. Liveness is read from /proc rather than
 * `kill(-pgid, 0)` because zombies (exited, not yet reaped by their new parent) still count for kill(2) but
 * hold no resources.
 *
 * Runs on real time on purpose: a fake clock cannot make a process exit sooner.
 */
export async function terminateProcessGroup(pgid: number, graceMs = DEFAULT_KILL_GRACE_MS): Promise<TerminateResult> {
  if (groupMembers(pgid).length === 0) return { endedBy: 'none', survivors: [] };
  signalGroup(pgid, 'SIGTERM');
  if (await waitForGroupGone(pgid, graceMs)) return { endedBy: 'SIGTERM', survivors: [] };
  signalGroup(pgid, 'SIGKILL');
  await waitForGroupGone(pgid, AFTER_SIGKILL_WAIT_MS);
  return { endedBy: 'SIGKILL', survivors: groupMembers(pgid).map((e) => e.pid) };
}

/** Polls /proc until no live member of the group remains; true when it emptied within `timeoutMs`. */
export async function waitForGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    if (groupMembers(pgid).length === 0) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    await sleep(Math.min(backoffDelay(attempt, 10, 100), left));
  }
}
