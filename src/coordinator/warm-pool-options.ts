/** Environment variable that overrides the `reuse` option: `1`/`true`/`yes` or `0`/`false`/`no`. */
export const REUSE_ENV_VAR = 'CINNAMON_POOL_REUSE';

/** @defaultValue 1200000 ms (20 min): a warm pool with no connection for this long stops itself. */
export const DEFAULT_REUSE_IDLE_MS = 20 * 60_000;

/** Shortest idle stop accepted (a warm pool that stops within a second is a cold pool). */
export const MIN_REUSE_IDLE_MS = 1_000;

export type ReuseDecision = { on: true; why: string } | { on: false; why: string };

/** Thrown for a CINNAMON_POOL_REUSE value that is neither on nor off (the options parser lists it as a problem). */
export class ReuseEnvError extends Error {}

/**
 * Whether this run keeps its members warm for the next (issue 13). CINNAMON_POOL_REUSE, when set, decides;
 * otherwise the `reuse` option, except under CI (env `CI` set and not 'false'/'0'): a CI machine runs each
 * build once, and a member left over would hold its ports, so there only the variable turns it on.
 * @throws ReuseEnvError for a variable that is neither on nor off
 */
export function resolveReuse(option: boolean | undefined, env: NodeJS.ProcessEnv): ReuseDecision {
  const raw = env[REUSE_ENV_VAR]?.trim().toLowerCase();
  if (raw) {
    if (['1', 'true', 'yes', 'on'].includes(raw)) return { on: true, why: `${REUSE_ENV_VAR}=${raw}` };
    if (['0', 'false', 'no', 'off'].includes(raw)) return { on: false, why: `${REUSE_ENV_VAR}=${raw}` };
    throw new ReuseEnvError(`${REUSE_ENV_VAR}=${JSON.stringify(env[REUSE_ENV_VAR])} is neither on (1, true) nor off (0, false); set one of those, or unset it`);
  }
  if (!option) return { on: false, why: 'option reuse is off' };
  const ci = env.CI?.trim().toLowerCase();
  if (ci && ci !== 'false' && ci !== '0') return { on: false, why: `CI is set (reuse: true applies to local runs; ${REUSE_ENV_VAR}=1 turns it on in CI)` };
  return { on: true, why: 'option reuse: true' };
}
