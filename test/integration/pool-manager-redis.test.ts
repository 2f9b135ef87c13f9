import { describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../../src/clock/fake-clock.js';
import { parsePoolOptions } from '../../src/config/pool-config.js';
import { ContainerPoolManager } from '../../src/pool/container-pool-manager.js';
import { RedisPoolStore } from '../../src/store/redis-store.js';
import { FakeCleaner, FakeFence, FakeHealthGate, FakeResetter, FakeRuntime } from '../support/fakes.js';
import { deletePrefix, uniquePrefix } from '../support/redis-server.js';
import { useTestRedis } from '../support/use-test-redis.js';

const testRedis = useTestRedis();

/** The fake runtime's members have no guard: the fence is the fake's, which keeps each member's floor. */
function manager(store: RedisPoolStore, clock: FakeClock, runtime = new FakeRuntime(), fence = new FakeFence()) {
  return new ContainerPoolManager({
    config: parsePoolOptions({ containers: 1, lease: { ttlMs: 10_000 } }),
    store,
    runtime,
    health: new FakeHealthGate(runtime),
    cleaner: new FakeCleaner(),
    resetter: new FakeResetter(),
    clock,
    fence: fence.fence,
  });
}

describe('ContainerPoolManager on real Redis', () => {
  it('a coordinator restarted on the same Redis finds its leases, queue, history and counters', async () => {
    const prefix = uniquePrefix('restart');
    const clock = new FakeClock();
    const runtime = new FakeRuntime();
    // One fence for both coordinators, as one guard per member outlives a coordinator restart.
    const fence = new FakeFence();
    const first = new RedisPoolStore({ redis: testRedis.server.url, keyPrefix: prefix });
    const before = manager(first, clock, runtime, fence);
    await before.initialize();
    const held = await before.allocateContainerAdvanced({ testRunId: 'holder', priority: 'normal' });
    void before.allocateContainerAdvanced({ testRunId: 'waiter', priority: 'critical' }).catch(() => undefined);
    await flushMicrotasks();
    await before.recordExecution('checkout', 1200);
    await before.requestTimeoutExtension('holder', 'slow sandbox', { requestedMs: 1000, currentTimeoutMs: 5000 });
    await before.getAuditLog(); // flushes the audit batch, as the sweep would within 100 ms
    // The coordinator process dies here: no shutdown, its connection just goes away.
    await first.close();

    const second = new RedisPoolStore({ redis: testRedis.server.url, keyPrefix: prefix });
    const after = manager(second, clock, runtime, fence);
    await after.resume();
    const status = await after.getPoolStatus();
    expect(status.containers).toMatchObject([{ id: 'container-1', state: 'Allocated', holder: 'holder' }]);
    expect(status.leases.map((l) => [l.leaseId, l.token])).toEqual([[held.lease.leaseId, held.lease.token]]);
    expect(status.queue).toMatchObject({ size: 1, byPriority: { critical: 1 } });
    expect(await second.getExecutions('checkout')).toEqual([1200]);
    expect(await second.getExtensionCount('holder')).toBe(1);
    const analytics = await after.getSystemAnalytics();
    expect(analytics.poolMetrics.totalAllocations).toBe(1);
    expect(analytics.allocations.map((a) => a.testRunId)).toEqual(['holder']);

    // The old holder's token still works with the new coordinator, and a wrong one is refused.
    await expect(after.renewLease({ leaseId: held.lease.leaseId, token: held.lease.token + 7 })).rejects.toMatchObject({ code: 'STALE_TOKEN' });
    await after.renewLease({ leaseId: held.lease.leaseId, token: held.lease.token });
    const released = await after.releaseContainer({ leaseId: held.lease.leaseId, token: held.lease.token });
    await released.recycled;
    await flushMicrotasks();
    // The waiting critical request (queued by the dead coordinator) is served next.
    const leases = await second.listLeases();
    expect(leases.map((l) => l.testRunId)).toEqual(['waiter']);
    // The tokens come from Redis across the restart: the member was fenced past the released holder's token
    // before the waiter got it, and the waiter's token is at or above that floor.
    const floors = fence.floorsOf('container-1');
    expect(floors.at(-1)).toBeGreaterThan(held.lease.token);
    expect(leases[0]!.token).toBeGreaterThanOrEqual(floors.at(-1)!);
    await after.shutdown();
    await second.close();
    await deletePrefix(testRedis.admin, prefix);
  });
});
