/**
 * When a starting pool may open, and when it has lost every member. Pure: the ContainerKeeper counts, these
 * decide.
 */

/**
 * When the pool opens. 'all': every member passed its gate (a host agent: it serves its host whole or not at
 * all). 'first': as soon as one did (a run's own pool: tests start while the rest start; they join as they
 * pass their gates).
 */
export type ServeFrom = 'first' | 'all';

/** @defaultValue 'all' for a pool started directly; PoolRun (globalSetup) asks for 'first'. */
export const DEFAULT_SERVE_FROM: ServeFrom = 'all';

export interface StartTally {
  /** Members the pool starts. */
  total: number;
  /** Members that passed their gate. */
  ready: number;
  /** Members whose start or gate failed. */
  failed: number;
}

export type StartVerdict = 'wait' | 'serve' | 'fail';

/**
 * 'serve' once the pool can serve, 'fail' once it never will from this start, 'wait' otherwise.
 * - 'all': waits for every member to settle (so the error lists every failure, as a start always did); serves
 *   only if none failed.
 * - 'first': serves with the first ready member; fails only when every member failed (the error lists them
 *   all). A member that failed while another could still pass is recovered after the pool opened.
 */
export function startVerdict({ total, ready, failed }: StartTally, serveFrom: ServeFrom): StartVerdict {
  if (serveFrom === 'first') {
    if (ready > 0) return 'serve';
    return failed >= total ? 'fail' : 'wait';
  }
  if (ready + failed < total) return 'wait';
  return failed > 0 ? 'fail' : 'serve';
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
