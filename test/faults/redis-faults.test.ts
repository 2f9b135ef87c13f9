/**
 * Scenario 4 of issue 5 — Redis faults. A redis-server started here with AOF (fsync always) is SIGKILLed and
 * restarted: (a) with a lease held and a request queued, the whole state comes back and the old token and the
 * queued request carry on; (b) under allocation load, the pool recovers by itself: no container leaked (stuck
 * out of the pool), none leased twice. (c) Redis down at start: PoolRun.start (the globalSetup path) fails with
 * STORE_UNAVAILABLE naming the URL and the fix. Containers are fakes: the fault is the store's.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePoolOptions } from '../../src/config/pool-config.js';
import { PoolRun } from '../../src/coordinator/pool-run.js';
import { isPoolError, type PoolError } from '../../src/errors/pool-error.js';
import type { Allocation } from '../../src/pool/container-pool-manager.js';
import { RedisPoolStore } from '../../src/store/redis-store.js';
import { freePort } from '../support/ports.js';
import { uniquePrefix } from '../support/redis-server.js';
import { AofRedis } from './support/aof-redis.js';
import { doubleLeases } from './support/audit-check.js';
import { snapshotStore, startFakePool, until, type FakePool } from './support/fake-pool.js';
import { reportFault } from './support/report.js';

let redis: AofRedis;
const pools: FakePool[] = [];
const stores: RedisPoolStore[] = [];
const results: Array<{ part: string; ok: boolean; figure: string }> = [];

beforeAll(async () => {
  redis = await AofRedis.start();
});

afterAll(async () => {
  for (const p of pools) await p.manager.shutdown().catch(() => undefined);
  for (const s of stores) await s.close().catch(() => undefined);
  await redis?.stop();
  const passed = results.filter((r) => r.ok).length;
  reportFault('redis faults (SIGKILL + AOF restart, down at start)', results.length, passed, results.map((r) => `${r.part}: ${r.figure}`).join('; '));
});

function redisStore(): RedisPoolStore {
  const store = new RedisPoolStore({ redis: redis.url, keyPrefix: uniquePrefix('faults') });
  stores.push(store);
  return store;
}

async function codeOf(work: () => Promise<unknown>): Promise<string> {
  try {
    await work();
    return 'OK';
  } catch (error) {
    return isPoolError(error) ? error.code : `untyped: ${String(error)}`;
  }
}

describe('fault 4: Redis faults', () => {
  it('killed with a lease held and a request queued: after the restart the state is all there and carries on', async () => {
    const store = redisStore();
    const pool = await startFakePool({ store, containers: 1, label: 'redis-quiet', lease: { ttlMs: 30_000 } });
    pools.push(pool);
    const { manager } = pool;
    const held = await manager.allocateContainerAdvanced({ testRunId: 'holder', priority: 'normal' });
    const waiter = manager.allocateContainerAdvanced({ testRunId: 'waiter', priority: 'critical' });
    await until('the waiter is queued', async () => (await store.listQueue()).length === 1);
    await manager.getAuditLog();
    const before = await snapshotStore(store, ['holder']);

    await redis.kill();
    const during = await codeOf(() => manager.renewLease({ leaseId: held.lease.leaseId, token: held.lease.token }));
    await redis.startServer();
    const after = await snapshotStore(store, ['holder']);

    await manager.renewLease({ leaseId: held.lease.leaseId, token: held.lease.token });
    await manager.releaseContainer({ leaseId: held.lease.leaseId, token: held.lease.token });
    const next = await waiter;
    const ok = during === 'STORE_UNAVAILABLE' && JSON.stringify(after) === JSON.stringify(before) && next.lease.token > held.lease.token;
    results.push({ part: 'restart with lease + queue', ok, figure: `outage answered ${during}, state ${ok ? 'identical after restart' : 'DIFFERENT'}` });
    expect(during).toBe('STORE_UNAVAILABLE');
    expect(after).toEqual(before);
    expect(next.lease.containerId).toBe(held.lease.containerId);
    await (await manager.releaseContainer({ leaseId: next.lease.leaseId, token: next.lease.token })).recycled;
  });

  it('killed and restarted under allocation load: the pool heals, no container leaked or leased twice', async () => {
    const store = redisStore();
    const TTL_MS = 1_500;
    const pool = await startFakePool({
      store,
      containers: 2,
      label: 'redis-load',
      lease: { ttlMs: TTL_MS, sweepIntervalMs: 100 },
      resources: { maxWaitTimeMs: 3_000, queueSizeThreshold: 1_000, failureRateThreshold: 1 },
      // A release whose reply is lost in the outage leaves its container in Cleaning; the sweep adopts it after
      // a whole cleanup's budget (6 stages × this), kept short here so that the recovery is seen quickly.
      cleanup: { stageTimeoutMs: 200 },
    });
    pools.push(pool);
    const { manager } = pool;
    const errors = new Map<string, number>();
    const count = (e: unknown) => {
      const code = isPoolError(e) ? e.code : 'untyped';
      errors.set(code, (errors.get(code) ?? 0) + 1);
    };
    let stop = false;
    let allocations = 0;
    const releasedUnheard = new Set<string>();
    const requesters = Array.from({ length: 4 }, async (_, r) => {
      for (let i = 0; !stop; i++) {
        let allocation: Allocation;
        try {
          allocation = await manager.allocateContainerAdvanced({ testRunId: `load-${r}-${i}`, priority: r % 2 ? 'high' : 'normal', timeoutMs: 3_000 });
        } catch (error) {
          count(error);
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        allocations++;
        await new Promise((resolve) => setTimeout(resolve, 10));
        // A worker keeps trying to give the container back while the store is down; a lease that expired
        // meanwhile is gone anyway.
        for (;;) {
          try {
            await manager.releaseContainer({ leaseId: allocation.lease.leaseId, token: allocation.lease.token });
            break;
          } catch (error) {
            count(error);
            // Its own token, told ALREADY_RELEASED: an earlier attempt was applied by the store, its answer lost.
            if (isPoolError(error, 'ALREADY_RELEASED')) releasedUnheard.add(allocation.lease.leaseId);
            if (!isPoolError(error, 'STORE_UNAVAILABLE')) break;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
      }
    });

    await until('some allocations done', () => allocations >= 30);
    await redis.kill();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await redis.startServer();
    const restartedAt = performance.now();
    const atRestart = allocations;
    await until('allocations resume after the restart', () => allocations >= atRestart + 30, 30_000);
    stop = true;
    await Promise.all(requesters);

    // Recovered: every container back in the pool (a leak is a container stuck in Cleaning or Allocated with no
    // holder), no lease left, no request left. Expired leases and orphaned queue entries take up to TTL + sweep.
    let healMs = 0;
    try {
      await until(
        'every container Available, no lease, no request',
        async () => {
          const [containers, leases, queue] = await Promise.all([store.listContainers(), store.listLeases(), store.listQueue()]);
          return containers.every((c) => c.state === 'Available') && leases.length === 0 && queue.length === 0;
        },
        TTL_MS + 10_000,
        50,
      );
      healMs = performance.now() - restartedAt;
    } catch (error) {
      const snapshot = await snapshotStore(store);
      results.push({ part: 'restart under load', ok: false, figure: `NOT recovered: ${snapshot.containers.map((c) => `${c.id} ${c.state}`).join(', ')}` });
      throw error;
    }
    const twice = doubleLeases(await manager.getAuditLog(), releasedUnheard);
    const untyped = errors.get('untyped') ?? 0;
    const ok = twice.length === 0 && untyped === 0;
    const seen = [...errors].map(([code, n]) => `${code}×${n}`).join(' ');
    results.push({ part: 'restart under load', ok, figure: `${allocations} allocations, outage errors ${seen || 'none'}, pool whole again ${Math.round(healMs)} ms after restart` });
    expect(twice).toEqual([]);
    expect(untyped).toBe(0);
    // It still works after all this.
    const again = await manager.allocateContainerAdvanced({ testRunId: 'after', priority: 'critical' });
    await (await manager.releaseContainer({ leaseId: again.lease.leaseId, token: again.lease.token })).recycled;
  });

  it('killed while a released container is being cleaned: after the restart the container comes back to the pool', async () => {
    const store = redisStore();
    const pool = await startFakePool({ store, containers: 1, label: 'redis-clean', lease: { ttlMs: 30_000, sweepIntervalMs: 100 } });
    pools.push(pool);
    const { manager, cleaner } = pool;
    const held = await manager.allocateContainerAdvanced({ testRunId: 'holder' });
    let open!: () => void;
    cleaner.gate = new Promise<void>((resolve) => (open = resolve));
    const released = await manager.releaseContainer({ leaseId: held.lease.leaseId, token: held.lease.token });
    await until('cleanup started', () => cleaner.calls.length > 0);
    await redis.kill();
    open(); // the cleanup finishes while Redis is down: Cleaning -> Available cannot be written
    cleaner.gate = undefined;
    await new Promise((resolve) => setTimeout(resolve, 300)); // the final move meets the outage
    await redis.startServer();
    const outcome = await released.recycled.then((state) => state, (e: unknown) => (isPoolError(e) ? e.code : String(e)));
    const restartedAt = performance.now();
    let state = '';
    try {
      await until('the container is Available again', async () => (state = (await store.getContainer(held.lease.containerId)).state) === 'Available', 10_000, 50);
    } catch (error) {
      results.push({ part: 'restart during cleanup', ok: false, figure: `container stuck in ${state} (recycle answered ${outcome})` });
      throw error;
    }
    const next = await manager.allocateContainerAdvanced({ testRunId: 'next' });
    results.push({ part: 'restart during cleanup', ok: true, figure: `cleanup ended ${outcome}; back in the pool ${Math.round(performance.now() - restartedAt)} ms after restart` });
    await (await manager.releaseContainer({ leaseId: next.lease.leaseId, token: next.lease.token })).recycled;
  });

  it('Redis down at start: PoolRun.start fails with STORE_UNAVAILABLE naming the URL and the fix', async () => {
    const baseDir = await mkdtemp(join(tmpdir(), 'cqa-faults-start-'));
    const url = `redis://127.0.0.1:${await freePort()}`;
    const ports = [await freePort()];
    let error: PoolError | undefined;
    try {
      await PoolRun.start({
        pool: parsePoolOptions({ poolId: 'faults-down', containerSpecs: ports.map((port, i) => ({ id: `c${i}`, name: `faults-down-${i}`, port })) }),
        plugin: { runtime: 'process', redisUrl: url },
        baseDir,
        log: () => {},
        env: { ...process.env, CINNAMON_POOL_RUNTIME: 'process' },
      }).then((run) => run.stop());
    } catch (e) {
      error = e as PoolError;
    } finally {
      await rm(baseDir, { recursive: true, force: true });
    }
    const ok = isPoolError(error, 'STORE_UNAVAILABLE') && error.message.includes(url) && /redis-server|remove redisUrl/.test(error.message);
    results.push({ part: 'down at start', ok, figure: `${error?.code ?? 'no error'}` });
    expect(error?.code).toBe('STORE_UNAVAILABLE');
    expect(error?.message).toContain(url);
    expect(error?.message).toMatch(/Start it .*redis-server/);
    expect(error?.message).toMatch(/remove redisUrl to use the embedded in-memory store/);
    expect(error?.data).toMatchObject({ url });
  });
});
