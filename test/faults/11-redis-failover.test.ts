/**
 * Fault case of issue 11 — Redis master killed under Sentinel: two coordinators (ContainerPoolManagers, fake
 * members) share one pool on a real master + replica + sentinel through a redis-sentinel:// URL. Two tests
 * hold both members and two more wait in the queue when the master is SIGKILLed. The sentinel promotes the
 * replica; the stores reconnect and the first to reach the new master bumps the pool epoch: the two held leases
 * end revoked, their members are recycled (fenced above every old token) and every test completes, the revoked
 * ones on a second attempt. No two grants ever carry the same token, and every token granted after the
 * failover exceeds every token granted before it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { parsePoolOptions } from '../../src/config/pool-config.js';
import type { PoolOptionsInput } from '../../src/config/schemas.js';
import { recycleOnFailover } from '../../src/coordinator/failover-recycle.js';
import { PoolError } from '../../src/errors/pool-error.js';
import type { Allocation } from '../../src/pool/container-pool-manager.js';
import { TOKENS_PER_EPOCH } from '../../src/store/redis-failover.js';
import { RedisPoolStore } from '../../src/store/redis-store.js';
import { FakeFence, FakeRuntime } from '../support/fakes.js';
import { freePorts } from '../support/ports.js';
import { startSentinelRedis, type SentinelRedis } from '../support/redis-sentinel.js';
import { uniquePrefix } from '../support/redis-server.js';
import { fakeMembersManager, until, uniquePoolId } from './support/fake-pool.js';
import { reportFault } from './support/report.js';

/** Store refusals a test sees while Redis fails over or after its lease was revoked: it allocates again. */
const RETRYABLE = new Set(['STORE_UNAVAILABLE', 'LEASE_REVOKED', 'LEASE_ENDED', 'ALLOCATION_TIMEOUT', 'COORDINATOR_UNAVAILABLE']);
/** Bounds a hang only (promotion ≈ 2 s on a quiet machine; reconnection and re-grants follow). */
const BUDGET_MS = 90_000;

let cluster: SentinelRedis | undefined;
const cleanups: Array<() => Promise<unknown>> = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await cluster?.stop();
});

describe('fault: Redis master killed under Sentinel (issue 11)', () => {
  it('completes the run across the failover: held leases revoked and retried, no token granted twice', { timeout: 180_000 }, async () => {
    cluster = await startSentinelRedis();
    const url = cluster.url;
    const prefix = uniquePrefix('failover');
    const poolId = uniquePoolId('failover');
    const ports = await freePorts(2);
    const runtime = new FakeRuntime();
    const fence = new FakeFence();
    const warnings: string[] = [];
    const coordinator = () => {
      const options: PoolOptionsInput = {
        poolId,
        containerSpecs: ports.map((port, i) => ({ id: `container-${i + 1}`, name: `${poolId}-${i + 1}`, port })),
        // Nothing may expire on a loaded machine; a request whose enqueue the failover lost times out and retries.
        lease: { ttlMs: 120_000 },
        resources: { maxWaitTimeMs: 30_000, maxConcurrentAllocations: 100, queueSizeThreshold: 1_000 },
      };
      const store = new RedisPoolStore({ redis: url, keyPrefix: prefix });
      const manager = fakeMembersManager(parsePoolOptions(options), store, { runtime, fence });
      // The pool's part of a failover, wired as PoolRun wires it: members whose leases the bump revoked are
      // recycled now (an agent hears the recycle channel instead).
      recycleOnFailover(store, manager, { warn: (line) => warnings.push(line) });
      cleanups.push(() => store.close(), () => manager.shutdown());
      return { manager, store };
    };
    const a = coordinator();
    await a.manager.initialize();
    const b = coordinator();
    await b.manager.resume();

    const granted: Allocation[] = [];
    const attempts = new Map<string, number>();
    let failedOver!: () => void;
    const afterFailover = new Promise<void>((resolve) => (failedOver = resolve));
    const runTest = async (side: typeof a, id: string, holdUntilFailover: boolean): Promise<void> => {
      const deadline = performance.now() + BUDGET_MS;
      for (let attempt = 1; ; attempt++) {
        attempts.set(id, attempt);
        try {
          const allocation = await side.manager.allocateContainerAdvanced({ testRunId: id, priority: 'normal' });
          granted.push(allocation);
          if (holdUntilFailover && attempt === 1) await afterFailover;
          const released = await side.manager.releaseContainer({ leaseId: allocation.lease.leaseId, token: allocation.lease.token });
          await released.recycled;
          return;
        } catch (error) {
          if (!(error instanceof PoolError) || !RETRYABLE.has(error.code) || performance.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    };

    // Two tests hold both members, two wait in the queue.
    const tests = [runTest(a, 'a-held', true), runTest(b, 'b-held', true)];
    await until('both members held', () => granted.length === 2, BUDGET_MS);
    tests.push(runTest(a, 'a-queued', false), runTest(b, 'b-queued', false));
    await until('two requests queued', async () => (await a.store.listQueue()).length === 2, BUDGET_MS);
    const before = granted.map((g) => g.lease.token);
    // All of it on the replica before the kill, so the held leases exist on the new master to be revoked.
    expect(await a.store.scriptClient.redis.wait(1, 10_000)).toBe(1);

    const oldMaster = await cluster.killMaster();
    await cluster.waitForPromotion(oldMaster);
    await until('the stores on the new master', async () => (await a.store.poolEpoch().catch(() => 0)) === 1, BUDGET_MS, 100);
    failedOver();
    // The rest of the run, some more tests on the new master.
    tests.push(runTest(a, 'a-after', false), runTest(b, 'b-after', false));
    await Promise.all(tests);

    const tokens = granted.map((g) => g.lease.token);
    const after = tokens.filter((t) => !before.includes(t));
    const ended = await Promise.all(granted.slice(0, 2).map((g) => a.store.getEndedLease(g.lease.leaseId)));
    const epochs = [await a.store.poolEpoch(), await b.store.poolEpoch()];
    reportFault(
      'Redis master killed under Sentinel (2 coordinators, 2 members, 6 tests)',
      attempts.size,
      attempts.size - (new Set(tokens).size === tokens.length ? 0 : 1),
      `pool epochs ${epochs.join('/')}; grants ${tokens.length} (tokens before ${before.join(',')}; after ${after.map((t) => `2^32+${t - TOKENS_PER_EPOCH}`).join(',')}); attempts ${[...attempts.values()].join(',')}`,
    );
    expect(epochs).toEqual([1, 1]);
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(Math.min(...after)).toBeGreaterThan(Math.max(...before));
    expect(Math.min(...after)).toBeGreaterThan(TOKENS_PER_EPOCH);
    // The held leases ended revoked by the failover and their tests ran again.
    expect(ended.map((e) => [e?.reason, e?.error?.startsWith('failover:')])).toEqual([
      ['revoked', true],
      ['revoked', true],
    ]);
    expect([attempts.get('a-held'), attempts.get('b-held')]).toEqual([2, 2]);
    // One of the two stores reached the new master first and bumped: one failover heard, both members recycled.
    expect(warnings).toEqual(['Redis master changed (pool epoch 1): 2 lease(s) of the old master revoked; their members are recycled.']);
    // Every member was fenced above every token of the old epoch: a stale holder is refused at the member.
    for (const id of ['container-1', 'container-2']) expect(fence.floors.get(id)).toBeGreaterThan(Math.max(...before));
  });
});
