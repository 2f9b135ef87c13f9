/**
 * When a starting pool may open, and when it has lost every member. Pure: the ContainerKeeper counts, these
 * decide.
 */

/**
 * When the pool opens. 'all': every member passed its gate (a host agent: it serves its host whole or not at
 * all). 'first': as soon as one did and every member was launched (a run's own pool: tests start while the
 * rest finish their gates; they join as they pass them).
 */
export type ServeFrom = 'first' | 'all';

/** @defaultValue 'all' for a pool started directly; PoolRun (globalSetup) asks for 'first'. */
export const DEFAULT_SERVE_FROM: ServeFrom = 'all';

export interface StartTally {
  /** Members the pool starts. */
  total: number;
  /** Members the runtime started (their server runs; the gate may still be running). */
  launched: number;
  /** Members that passed their gate. */
  ready: number;
  /** Members whose start or gate failed. */
  failed: number;
}

export type StartVerdict = 'wait' | 'serve' | 'fail';

/**
 * 'serve' once the pool can serve, 'fail' once it never will from this start, 'wait' otherwise.
 * - A member that fails before the pool opened fails the start, as a start always did: once every member
 *   settled (so the error lists every failure), whatever the others did.
 * - 'all': serves once every member passed its gate.
 * - 'first': serves once one member passed its gate and the runtime started every member: a member the runtime
 *   cannot start (port taken, image missing) is a set-up error that fails the run, never a member recovered
 *   later. A member that fails its gate after the pool opened is recovered (ContainerKeeper).
 */
export function startVerdict({ total, launched, ready, failed }: StartTally, serveFrom: ServeFrom): StartVerdict {
  if (failed > 0) return ready + failed < total ? 'wait' : 'fail';
  if (serveFrom === 'all') return ready >= total ? 'serve' : 'wait';
  return ready > 0 && launched >= total ? 'serve' : 'wait';
}

/**
 * Members that can never serve again in this run: quarantined ones (recovery gave up on them). When this is
 * every member, waiting requests can never be granted: they fail at once with `everyMemberLostMessage`.
 */
export function everyMemberLost(members: readonly string[], quarantined: ReadonlySet<string>): boolean {
  return members.length > 0 && members.every((id) => quarantined.has(id));
}

export function everyMemberLostMessage(members: readonly string[]): string {
  return (
    `Every container of the pool failed and was taken out after ${members.length === 1 ? 'its' : 'their'} recoveries failed (quarantined: ${members.join(', ')}); ` +
    'no test can get one in this run. Read the containers\' logs and the warnings above (each names the container, the stage and the fix), ' +
    'or raise health.startupTimeoutMs on a slow machine.'
  );
}
