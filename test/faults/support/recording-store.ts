import { Mutex } from 'async-mutex';
import type { PoolStore } from '../../../src/store/pool-store.js';

/** One state-changing store call, in the order the store applied them. */
export interface StoreCall {
  method: string;
  args: unknown[];
  result?: unknown;
  error?: unknown;
}

const MUTATING = new Set(['enqueue', 'dispatch', 'cancel', 'release', 'reclaimExpired', 'revoke', 'renew', 'transition', 'registerContainers']);

/**
 * Wraps a store so that every state-changing call runs alone and is logged with its result, in apply order.
 * Replaying the log then shows the queue exactly as each grant found it — which the audit trail alone cannot
 * (two requests in one millisecond look simultaneous there).
 */
export function recordingStore<S extends PoolStore>(store: S): { store: S; calls: StoreCall[] } {
  const calls: StoreCall[] = [];
  const lock = new Mutex();
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof property !== 'string' || !MUTATING.has(property) || typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        lock.runExclusive(async () => {
          try {
            const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            calls.push({ method: property, args, result });
            return result;
          } catch (error) {
            calls.push({ method: property, args, error });
            throw error;
          }
        });
    },
  });
  return { store: proxy, calls };
}
