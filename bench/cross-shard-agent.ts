import { RedisPoolStore } from '../src/store/redis-store.js';

/**
 * Child process of bench/cross-shard.ts: `cinnamon-pool agent` (src/cli/main.ts, the CLI's own code and argument
 * parsing) for the one pool whose agent must find released members by its 1 s poll only. With
 * BENCH_NO_RECYCLE_NOTICES=1 the recycle subscription is a no-op in this process, which holds nothing but the
 * agent. Arguments are the CLI's: `node --import tsx bench/cross-shard-agent.ts agent --redis-url ...`.
 */
if (process.env.BENCH_NO_RECYCLE_NOTICES === '1') {
  const original = Object.getOwnPropertyDescriptor(RedisPoolStore.prototype, 'subscribeRecycle')!;
  Object.defineProperty(RedisPoolStore.prototype, 'subscribeRecycle', { ...original, value: async () => async () => {} });
}
await import('../src/cli/main.js');
