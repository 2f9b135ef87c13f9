import type { Clock } from '../clock/clock.js';
import { withinBudget } from '../clock/clock-wait.js';
import { PoolError } from '../errors/pool-error.js';
import type { PoolStore } from '../store/pool-store.js';

/** @defaultValue 5000 ms: how long a configured Redis gets to answer at start before the run fails. */
export const REDIS_START_TIMEOUT_MS = 5_000;

/** Fails with STORE_UNAVAILABLE (naming the redacted URL and the fixes) unless the store's Redis answers in time. */
export async function assertRedisAnswers(store: PoolStore, where: string, clock: Clock, shared: boolean): Promise<void> {
  try {
    await withinBudget(clock, store.getCounters(), REDIS_START_TIMEOUT_MS, () => new Error(`no answer within ${REDIS_START_TIMEOUT_MS} ms`));
  } catch (error) {
    throw new PoolError(
      'STORE_UNAVAILABLE',
      `Redis at ${where} (option redisUrl) is unreachable: ${error instanceof Error ? error.message : String(error)}. ` +
        `Start it (e.g. \`redis-server --port <port>\`), fix redisUrl, or ` +
        (shared ? `use mode: 'local' (a shared pool lives in Redis).` : `remove redisUrl to use the embedded in-memory store.`),
      { url: where },
      { cause: error },
    );
  }
}
