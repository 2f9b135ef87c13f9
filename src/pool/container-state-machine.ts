import { canTransition, CONTAINER_TRANSITIONS, type ContainerState } from '../domain/container-state.js';
import { PoolError } from '../errors/pool-error.js';
import type { ContainerRecord, PoolStore } from '../store/pool-store.js';

/** Throws INVALID_TRANSITION unless from → to is one of the lifecycle's moves. */
export function assertTransition(containerId: string, from: ContainerState, to: ContainerState): void {
  if (canTransition(from, to)) return;
  const allowed = CONTAINER_TRANSITIONS[from];
  throw new PoolError(
    'INVALID_TRANSITION',
    `Container ${containerId}: ${from} → ${to} is not a legal move (from ${from} only ${allowed.join(', ')}).`,
    { containerId, from, to, allowed: [...allowed] },
  );
}

/**
 * Moves a container through the store after checking the move is legal. The store's compare-and-set makes
 * the move atomic: if another actor changed the state first, this one fails and changes nothing.
 */
export async function moveContainer(
  store: PoolStore,
  containerId: string,
  from: ContainerState,
  to: ContainerState,
  now: number,
  error?: string,
): Promise<ContainerRecord> {
  assertTransition(containerId, from, to);
  return store.transition(containerId, from, to, now, error);
}
