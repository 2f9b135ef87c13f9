import type { PoolLogger } from '../pool/pool-events.js';
import type { RedisPoolStore } from '../store/redis-store.js';

/** What recycleOnFailover needs of the pool: ContainerPoolManager.recycleReleased. */
export interface FailoverRecycler {
  recycleReleased(containerIds: readonly string[]): Promise<void>;
}

/**
 * A Redis failover (a new master: pool epoch bumped, see src/store/redis-failover.ts) ends the old master's
 * leases — their tests allocate again — and leaves their members Cleaning: this recycles them at once rather
 * than when the orphan sweep finds them, and says so once. Returns the function that stops listening.
 */
export function recycleOnFailover(store: RedisPoolStore, pool: FailoverRecycler, logger: Pick<PoolLogger, 'warn'>): () => void {
  return store.onFailover(({ epoch, revoked }) => {
    logger.warn(`Redis master changed (pool epoch ${epoch}): ${revoked.length} lease(s) of the old master revoked; their members are recycled.`);
    void pool.recycleReleased(revoked.map((l) => l.containerId)).catch((error: unknown) => logger.warn(`recycle after the failover: ${String(error)}`));
  });
}
