import { PRIORITY_RANK } from '../domain/priority.js';
import type { ContainerRecord, Lease, QueuedRequest } from '../store/pool-store.js';

/** What a holder is told at a test boundary. */
export interface HandBackAdvice {
  /** True when the holder should give the container back now (at this test boundary). */
  handBack: boolean;
  /** Live waiting requests: all of them, and those of equal or higher priority than the lease. */
  waiting: { total: number; atOrAbove: number };
}

export interface HandBackInput {
  lease: Lease;
  queue: readonly QueuedRequest[];
  containers: readonly ContainerRecord[];
  now: number;
  /** resources.handBackAfterMs: how long an equal-priority waiter may wait before the holder yields. */
  handBackAfterMs: number;
}

/**
 * Whether the holder of `lease` should hand its container back at a test boundary.
 *
 * - A waiter of HIGHER priority: always (priority must mean something between tests of a worker).
 * - Waiters of EQUAL priority: only once one has waited `handBackAfterMs`, or a third of its own queue
 *   budget (deadline − requestedAt) when that is shorter, so a short `maxWaitTimeMs` is never exceeded
 *   because of this rule. Handing back after every test would put a full cleanup between every two tests;
 *   holding for a while spreads that cost over several tests while bounding every wait.
 * - Never more hand-backs than the waiters need: waiters that containers already on their way back
 *   (Cleaning, or Available and not yet granted) will serve do not count.
 */
export function adviseHandBack(input: HandBackInput): HandBackAdvice {
  const { lease, now } = input;
  const rank = PRIORITY_RANK[lease.priority];
  const live = input.queue.filter((q) => q.deadline > now);
  const atOrAbove = live.filter((q) => PRIORITY_RANK[q.priority] <= rank);
  const waiting = { total: live.length, atOrAbove: atOrAbove.length };
  const freeing = input.containers.filter((c) => c.state === 'Cleaning' || c.state === 'Available').length;

  // Waiters this holder should yield to: every higher one, and equal ones that have waited long enough.
  const due = atOrAbove.filter(
    (q) => PRIORITY_RANK[q.priority] < rank || now - q.requestedAt >= Math.min(input.handBackAfterMs, (q.deadline - q.requestedAt) / 3),
  ).length;
  return { handBack: due > freeing, waiting };
}
