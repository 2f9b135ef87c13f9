import { readRedisTime } from '../coordinator/redis-time.js';
import { RedisHostRegistry } from '../store/redis-host-registry.js';
import { RedisPoolStore } from '../store/redis-store.js';
import { formatSharedStatus, type SharedPoolSnapshot } from './shared-status.js';

/** Reads a shared pool's hosts, members, leases and queue from its Redis (no coordinator needed). */
export async function readSharedPool(redisUrl: string, keyPrefix: string): Promise<SharedPoolSnapshot> {
  const store = new RedisPoolStore({ redis: redisUrl, keyPrefix });
  try {
    const registry = new RedisHostRegistry(store);
    const [hosts, containers, leases, queue, now] = await Promise.all([
      registry.listHosts(),
      store.listContainers(),
      store.listLeases(),
      store.listQueue(),
      readRedisTime(redisUrl),
    ]);
    return { prefix: keyPrefix, now, hosts, containers, leases, queue };
  } finally {
    await store.close();
  }
}

/** `cinnamon-pool status --redis-url URL [--pool-id ID | --prefix P] [--json]`. */
export async function renderSharedStatus(redisUrl: string, keyPrefix: string, json: boolean): Promise<string> {
  const snapshot = await readSharedPool(redisUrl, keyPrefix);
  return json ? `${JSON.stringify(snapshot, null, 2)}\n` : formatSharedStatus(snapshot);
}
