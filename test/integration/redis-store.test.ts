import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { PoolError } from '../../src/errors/pool-error.js';
import type { PoolStore } from '../../src/store/pool-store.js';
import { RedisKeys } from '../../src/store/redis-keys.js';
import { loadScripts } from '../../src/store/redis-scripts.js';
import { RedisPoolStore, type RedisPoolStoreOptions } from '../../src/store/redis-store.js';
import { describePoolStoreContract, request, spec, type StoreHandle } from '../contract/pool-store.contract.js';
import { describePoolStoreProperties } from '../contract/pool-store.properties.js';
import { deletePrefix, uniquePrefix } from '../support/redis-server.js';
import { useTestRedis } from '../support/use-test-redis.js';

const T0 = 1_800_000_000_000;
const TTL = 15_000;

const testRedis = useTestRedis();

/** A fresh prefix per test: tests share one server but never see each other's keys. */
async function freshStore(): Promise<StoreHandle> {
  const prefix = uniquePrefix('contract');
  const store = new RedisPoolStore({ redis: testRedis.server.url, keyPrefix: prefix });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await deletePrefix(testRedis.admin, prefix);
    },
  };
}

/**
 * The store on a connection the caller passes in, left at ioredis' default protocol (RESP3 since ioredis 6): the
 * store's own connections pin RESP2, a user's need not.
 */
async function freshStoreOnCallerConnection(): Promise<StoreHandle> {
  const prefix = uniquePrefix('contract-resp3');
  const redis = testRedis.server.connect();
  const store = new RedisPoolStore({ redis, keyPrefix: prefix });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await redis.quit().catch(() => redis.disconnect());
      await deletePrefix(testRedis.admin, prefix);
    },
  };
}

describePoolStoreContract('redis', freshStore);
describePoolStoreProperties('redis', freshStore);
describePoolStoreContract('redis, caller connection on RESP3', freshStoreOnCallerConnection);
describePoolStoreProperties('redis, caller connection on RESP3', freshStoreOnCallerConnection);

describe('RedisPoolStore on real Redis', () => {
  const opened: Array<{ store: PoolStore; prefix: string }> = [];
  const connections: Redis[] = [];

  function open(prefix: string, options: Partial<RedisPoolStoreOptions> = {}): RedisPoolStore {
    const store = new RedisPoolStore({ redis: testRedis.server.url, keyPrefix: prefix, ...options });
    opened.push({ store, prefix });
    return store;
  }

  function connection(): Redis {
    const redis = testRedis.server.connect();
    connections.push(redis);
    return redis;
  }

  afterEach(async () => {
    for (const { store, prefix } of opened.splice(0)) {
      await store.close();
      await deletePrefix(testRedis.admin, prefix);
    }
    for (const redis of connections.splice(0)) await redis.quit().catch(() => redis.disconnect());
  });

  async function readyPool(store: PoolStore, n: number): Promise<void> {
    await store.registerContainers(Array.from({ length: n }, (_, i) => spec(i + 1)), T0);
    for (let i = 1; i <= n; i++) await store.transition(`container-${i}`, 'Starting', 'Available', T0);
  }

  /** Every key under the prefix with its type and full content, to prove that a refused call changed nothing. */
  async function snapshot(prefix: string): Promise<Record<string, unknown>> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await testRedis.admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const out: Record<string, unknown> = {};
    for (const key of keys.sort()) {
      const type = await testRedis.admin.type(key);
      if (type === 'string') out[key] = await testRedis.admin.get(key);
      else if (type === 'hash') out[key] = await testRedis.admin.hgetall(key);
      else if (type === 'zset') out[key] = await testRedis.admin.zrange(key, 0, '-1', 'WITHSCORES');
      else if (type === 'list') out[key] = await testRedis.admin.lrange(key, 0, -1);
      else out[key] = type;
    }
    return out;
  }

  it('a new store object on the same Redis and prefix sees containers, leases, queue, history and counters', async () => {
    const prefix = uniquePrefix('restart');
    const first = open(prefix);
    await readyPool(first, 1);
    const { grants } = await first.enqueue(request('held'), T0, TTL, 10);
    const lease = grants[0]!.lease;
    const { queued } = await first.enqueue(request('waiting', 'high'), T0, TTL, 10);
    await first.appendExecution('test-a', 1234.5, 10);
    await first.incrementCounter('failedAllocations', 2);
    await first.claimExtension('run-x', 3);
    await first.appendAudit([{ at: T0, type: 'allocated', actor: 'run-held', containerId: 'container-1', outcome: 'ok', detail: { n: 1 } }]);
    const before = {
      containers: await first.listContainers(),
      leases: await first.listLeases(),
      queue: await first.listQueue(),
      counters: await first.getCounters(),
      audit: await first.listAudit(),
    };
    await first.close();

    const second = open(prefix);
    expect(await second.listContainers()).toEqual(before.containers);
    expect(await second.listLeases()).toEqual([lease]);
    expect(await second.listLeases()).toEqual(before.leases);
    expect(await second.listQueue()).toEqual([queued]);
    expect(await second.getCounters()).toEqual(before.counters);
    expect(before.counters).toMatchObject({ allocations: 1, failedAllocations: 2 });
    expect(await second.listAudit()).toEqual(before.audit);
    expect(await second.getExecutions('test-a')).toEqual([1234.5]);
    expect(await second.getExecutions()).toEqual([1234.5]);
    expect(await second.getExtensionCount('run-x')).toBe(1);

    // The lease granted by the first object is honoured by the second; counters continue, never restart.
    await second.release(lease.leaseId, lease.token, T0 + 10);
    await second.transition('container-1', 'Cleaning', 'Available', T0 + 10);
    const [next] = await second.dispatch(T0 + 10, TTL);
    expect(next!.request.requestId).toBe('waiting');
    expect(next!.lease.token).toBeGreaterThan(lease.token);
    const { queued: later } = await second.enqueue(request('later'), T0, TTL, 10);
    expect(later.seq).toBeGreaterThan(queued.seq);
  });

  it('two coordinators on one prefix never lease a container twice', async () => {
    const prefix = uniquePrefix('shared');
    const a = open(prefix);
    const b = open(prefix);
    await readyPool(a, 2);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).enqueue(request(`r${i}`), T0, TTL, 100)),
    );
    const grants = results.flatMap((r) => r.grants);
    expect(grants).toHaveLength(2);
    expect(new Set(grants.map((g) => g.lease.containerId)).size).toBe(2);
    expect(await b.listQueue()).toHaveLength(18);
    expect(new Set((await a.listQueue()).map((q) => q.seq)).size).toBe(18);
  });

  describe('corrupt state', () => {
    it('an unreadable container record fails reads and changes with CORRUPT_STATE naming the key, and changes nothing', async () => {
      const prefix = uniquePrefix('corrupt');
      const store = open(prefix);
      const keys = new RedisKeys(prefix);
      await readyPool(store, 2);
      await store.enqueue(request('queued-before'), T0, TTL, 10); // takes container-1
      await testRedis.admin.hset(keys.containers, 'container-2', '{not json');
      const before = await snapshot(prefix);

      const read = await store.getContainer('container-2').catch((e: unknown) => e);
      expect(read).toBeInstanceOf(PoolError);
      expect(read).toMatchObject({ code: 'CORRUPT_STATE', data: { key: keys.containers, field: 'container-2' } });
      expect((read as PoolError).message).toContain(keys.containers);
      expect((read as PoolError).message).toMatch(/delete that key|flush the prefix/i);

      await expect(store.enqueue(request('a'), T0, TTL, 10)).rejects.toMatchObject({ code: 'CORRUPT_STATE', data: { field: 'container-2' } });
      await expect(store.transition('container-2', 'Available', 'Cleaning', T0)).rejects.toMatchObject({ code: 'CORRUPT_STATE' });
      await expect(store.revoke('container-2', T0, 'x')).rejects.toMatchObject({ code: 'CORRUPT_STATE' });
      await expect(store.listContainers()).rejects.toMatchObject({ code: 'CORRUPT_STATE' });
      expect(await snapshot(prefix)).toEqual(before);
    });

    it('a well-formed JSON record of the wrong shape is CORRUPT_STATE too', async () => {
      const prefix = uniquePrefix('shape');
      const store = open(prefix);
      const keys = new RedisKeys(prefix);
      await readyPool(store, 1);
      await testRedis.admin.hset(keys.containers, 'container-1', JSON.stringify({ id: 'container-1', state: 'Sleeping' }));
      await expect(store.getContainer('container-1')).rejects.toMatchObject({ code: 'CORRUPT_STATE' });
      await expect(store.enqueue(request('a'), T0, TTL, 10)).rejects.toMatchObject({ code: 'CORRUPT_STATE' });
    });

    it('a corrupt lease refuses release and renew and changes nothing', async () => {
      const prefix = uniquePrefix('lease');
      const store = open(prefix);
      const keys = new RedisKeys(prefix);
      await readyPool(store, 1);
      const lease = (await store.enqueue(request('a'), T0, TTL, 10)).grants[0]!.lease;
      await testRedis.admin.set(keys.lease(lease.leaseId), '[]', 'KEEPTTL');
      const before = await snapshot(prefix);
      await expect(store.release(lease.leaseId, lease.token, T0 + 1)).rejects.toMatchObject({
        code: 'CORRUPT_STATE',
        data: { key: keys.lease(lease.leaseId) },
      });
      await expect(store.renew(lease.leaseId, lease.token, T0 + 1, TTL)).rejects.toMatchObject({ code: 'CORRUPT_STATE' });
      await expect(store.reclaimExpired(T0 + TTL)).rejects.toMatchObject({ code: 'CORRUPT_STATE' });
      await expect(store.getLease(lease.leaseId)).rejects.toMatchObject({ code: 'CORRUPT_STATE' });
      expect(await snapshot(prefix)).toEqual(before);
    });

    it('a corrupt queued request refuses the dispatch pass and changes nothing', async () => {
      const prefix = uniquePrefix('queue');
      const store = open(prefix);
      const keys = new RedisKeys(prefix);
      await store.registerContainers([spec(1)], T0);
      await store.enqueue(request('a'), T0, TTL, 10);
      await testRedis.admin.hset(keys.requests, 'a', 'garbage');
      await store.transition('container-1', 'Starting', 'Available', T0);
      const before = await snapshot(prefix);
      await expect(store.dispatch(T0, TTL)).rejects.toMatchObject({ code: 'CORRUPT_STATE', data: { key: keys.requests, field: 'a' } });
      await expect(store.enqueue(request('b'), T0, TTL, 10)).rejects.toMatchObject({ code: 'CORRUPT_STATE' });
      await expect(store.listQueue()).rejects.toMatchObject({ code: 'CORRUPT_STATE' });
      expect(await snapshot(prefix)).toEqual(before);
    });

    it('a key of the wrong Redis type is CORRUPT_STATE, not a crash', async () => {
      const prefix = uniquePrefix('type');
      const store = open(prefix);
      const keys = new RedisKeys(prefix);
      await testRedis.admin.set(keys.counters, 'oops');
      await expect(store.getCounters()).rejects.toMatchObject({ code: 'CORRUPT_STATE' });
      // Inside a script too: the enqueue script hits the wrong-typed queue key and is refused as a whole.
      await readyPool(store, 1);
      await testRedis.admin.set(keys.queue, 'oops');
      await expect(store.enqueue(request('a'), T0, TTL, 10)).rejects.toMatchObject({ code: 'CORRUPT_STATE' });
    });
  });

  it('puts safety-net TTLs on lease, grant pickup, ended-lease and extension keys, and none on pool state', async () => {
    const prefix = uniquePrefix('ttl');
    const grace = 60_000;
    const endedTtl = 120_000;
    const store = open(prefix, { leaseKeyGraceMs: grace, endedLeaseTtlMs: endedTtl });
    const keys = new RedisKeys(prefix);
    await readyPool(store, 1);
    const lease = (await store.enqueue(request('a'), T0, TTL, 10)).grants[0]!.lease;

    const leaseTtl = await testRedis.admin.pttl(keys.lease(lease.leaseId));
    expect(leaseTtl).toBeGreaterThan(TTL + grace - 5_000);
    expect(leaseTtl).toBeLessThanOrEqual(TTL + grace);
    expect(await testRedis.admin.pttl(keys.grant('a'))).toBeGreaterThan(TTL);

    // Renewing with a longer TTL stretches the safety net with it.
    await store.renew(lease.leaseId, lease.token, T0 + 1, 10 * TTL);
    expect(await testRedis.admin.pttl(keys.lease(lease.leaseId))).toBeGreaterThan(10 * TTL);
    expect(await testRedis.admin.pttl(keys.grant('a'))).toBeGreaterThan(10 * TTL);

    await store.release(lease.leaseId, lease.token, T0 + 2);
    expect(await testRedis.admin.exists(keys.lease(lease.leaseId), keys.grant('a'))).toBe(0);
    const endedTtlLeft = await testRedis.admin.pttl(keys.ended(lease.leaseId));
    expect(endedTtlLeft).toBeGreaterThan(0);
    expect(endedTtlLeft).toBeLessThanOrEqual(endedTtl);

    await store.claimExtension('run-a', 3);
    expect(await testRedis.admin.pttl(keys.extensions('run-a'))).toBeGreaterThan(0);

    for (const key of [keys.containers, keys.containerOrder, keys.counters, keys.tokenSeq, keys.requestSeq]) {
      expect(await testRedis.admin.pttl(key), key).toBe(-1);
    }
  });

  it('expiry is decided by the caller’s clock and the expiry index, not by Redis time', async () => {
    const prefix = uniquePrefix('clock');
    const store = open(prefix);
    await readyPool(store, 1);
    const lease = (await store.enqueue(request('a'), T0, TTL, 10)).grants[0]!.lease;
    // Years after "now" in Redis' own clock terms, yet the lease is live until the caller's clock says so.
    expect(await store.reclaimExpired(T0 + TTL - 1)).toEqual([]);
    expect(await store.renew(lease.leaseId, lease.token, T0 + TTL - 1, TTL)).toMatchObject({ expiresAt: T0 + 2 * TTL - 1 });
    expect((await store.reclaimExpired(T0 + 2 * TTL)).map((l) => l.leaseId)).toEqual([lease.leaseId]);
  });

  it('reclaims a lease whose key already vanished (safety net fired) and frees its container', async () => {
    const prefix = uniquePrefix('vanished');
    const store = open(prefix);
    const keys = new RedisKeys(prefix);
    await readyPool(store, 1);
    const lease = (await store.enqueue(request('a'), T0, TTL, 10)).grants[0]!.lease;
    await testRedis.admin.del(keys.lease(lease.leaseId));
    expect(await store.listLeases()).toEqual([]);
    expect(await store.reclaimExpired(T0 + TTL)).toEqual([]);
    const container = await store.getContainer('container-1');
    expect(container.state).toBe('Cleaning');
    expect(container.leaseId).toBeUndefined();
    expect((await store.getCounters()).expirations).toBe(1);
    expect(await testRedis.admin.zcard(keys.leaseExpiry)).toBe(0);
  });

  it('caps execution history and the audit log', async () => {
    const prefix = uniquePrefix('caps');
    const store = open(prefix, { auditLimit: 3 });
    const keys = new RedisKeys(prefix);
    for (let i = 1; i <= 25; i++) await store.appendExecution('t', i, 10);
    expect(await testRedis.admin.llen(keys.history('t'))).toBe(10);
    expect(await testRedis.admin.llen(keys.historyAll)).toBe(10);
    expect(await store.getExecutions('t')).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    await store.appendAudit(Array.from({ length: 5 }, (_, i) => ({ at: T0 + i, type: `e${i}`, actor: 'coordinator', outcome: 'ok' as const })));
    expect((await store.listAudit()).map((e) => e.type)).toEqual(['e2', 'e3', 'e4']);
  });

  describe('round trips', () => {
    /** Commands Redis executed for this prefix on behalf of clients (not from inside scripts) while `fn` ran. */
    async function commandsDuring(prefix: string, fn: () => Promise<unknown>): Promise<string[][]> {
      const monitor = await connection().monitor();
      const seen: string[][] = [];
      const sentinel = `${prefix}:sentinel:${Math.random()}`;
      let sawSentinel: () => void = () => {};
      const sentinelSeen = new Promise<void>((resolve) => (sawSentinel = resolve));
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        if (args.includes(sentinel)) return sawSentinel();
        if (source === 'lua' || !args.some((a) => a.includes(prefix))) return;
        seen.push(args);
      });
      try {
        await fn();
        // MONITOR reports in execution order: once the sentinel shows up, everything before it has too.
        await testRedis.admin.exists(sentinel);
        await sentinelSeen;
      } finally {
        monitor.disconnect();
      }
      return seen;
    }

    it('enqueue (with immediate grant), dispatch, renew, release and reclaim are one command each', async () => {
      const prefix = uniquePrefix('rtt');
      const store = open(prefix);
      await readyPool(store, 1);
      // Warm up: the first script call on a connection is an EVAL, later ones EVALSHA; both are one command.
      const warm = (await store.enqueue(request('warm'), T0, TTL, 10)).grants[0]!.lease;
      await store.release(warm.leaseId, warm.token, T0);
      await store.transition('container-1', 'Cleaning', 'Available', T0);

      let lease = warm;
      const enqueueCommands = await commandsDuring(prefix, async () => {
        const { grants } = await store.enqueue(request('a'), T0, TTL, 10);
        expect(grants).toHaveLength(1);
        lease = grants[0]!.lease;
      });
      expect(enqueueCommands).toHaveLength(1);
      expect(enqueueCommands[0]![0]!.toLowerCase()).toMatch(/^eval(sha)?$/);

      expect(await commandsDuring(prefix, () => store.renew(lease.leaseId, lease.token, T0 + 1, TTL))).toHaveLength(1);
      expect(await commandsDuring(prefix, () => store.release(lease.leaseId, lease.token, T0 + 2))).toHaveLength(1);
      await store.transition('container-1', 'Cleaning', 'Available', T0);
      await store.enqueue(request('b', 'normal'), T0, TTL, 10);
      await store.enqueue(request('c', 'normal'), T0, TTL, 10);
      expect(await commandsDuring(prefix, () => store.dispatch(T0, TTL))).toHaveLength(1);
      expect(await commandsDuring(prefix, () => store.reclaimExpired(T0 + TTL))).toHaveLength(1);
    });
  });

  describe('connection ownership and failures', () => {
    /** `resp=` of every client the server has, by client id. */
    async function protocolsByClient(): Promise<Map<string, string>> {
      const list = String(await testRedis.admin.call('CLIENT', 'LIST'));
      return new Map(list.split('\n').filter(Boolean).map((line) => [/\bid=(\d+)/.exec(line)?.[1] ?? '', /\bresp=(\d)/.exec(line)?.[1] ?? '']));
    }

    it('speaks RESP2 on the connection it opens; a passed connection keeps its own protocol (RESP3 here)', async () => {
      const before = await protocolsByClient();
      await open(uniquePrefix('resp')).getCounters();
      const opened = [...(await protocolsByClient())].filter(([id]) => !before.has(id)).map(([, resp]) => resp);
      expect(opened).toEqual(['2']);

      const redis = connection();
      await new RedisPoolStore({ redis, keyPrefix: uniquePrefix('resp3') }).getCounters();
      // The RESP3 contract run above is only a RESP3 run if ioredis' default really is RESP3.
      expect(String(await redis.call('CLIENT', 'INFO'))).toMatch(/\bresp=3\b/);
    });

    it('leaves a passed connection open on close and refuses calls afterwards', async () => {
      const redis = connection();
      const store = new RedisPoolStore({ redis, keyPrefix: uniquePrefix('own') });
      await store.getCounters();
      await store.close();
      await store.close(); // safe twice
      expect(await redis.ping()).toBe('PONG');
      await expect(store.getCounters()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    });

    it('reports an unreachable Redis as STORE_UNAVAILABLE, promptly', async () => {
      const store = new RedisPoolStore({ redis: 'redis://127.0.0.1:1', keyPrefix: uniquePrefix('down') });
      try {
        const started = performance.now();
        await expect(store.getCounters()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
        expect(performance.now() - started).toBeLessThan(10_000);
      } finally {
        await store.close();
      }
    });

    it('finds its Lua scripts next to the module and says what to do when they are missing', () => {
      expect(loadScripts().size).toBeGreaterThan(10);
      expect(() => loadScripts('/nonexistent/lua')).toThrow(/copy src\/store\/lua to dist\/src\/store\/lua/);
    });
  });
});
