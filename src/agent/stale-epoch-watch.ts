import { isPoolError } from '../errors/pool-error.js';
import type { PoolStore } from '../store/pool-store.js';

/**
 * The agent's scoped store, watched: any call that rejects STALE_EPOCH (a write of an epoch that no longer holds
 * the host lease) also tells `onStale`, so the agent fences itself at once instead of at its next renewal. The
 * rejection still reaches the caller unchanged.
 */
export function watchStaleEpoch(store: PoolStore, onStale: (message: string) => void): PoolStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (result instanceof Promise) {
          return result.catch((error: unknown) => {
            if (isPoolError(error, 'STALE_EPOCH')) onStale(error.message);
            throw error;
          });
        }
        return result;
      };
    },
  });
}
