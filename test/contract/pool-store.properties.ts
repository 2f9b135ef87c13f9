import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PRIORITY_RANK, TEST_PRIORITIES, type TestPriority } from '../../src/domain/priority.js';
import type { Grant, Lease, PoolStore, QueuedRequest } from '../../src/store/pool-store.js';
import { spec, type StoreHandle } from './pool-store.contract.js';
import { describeTenantProperties } from './pool-store-tenants.properties.js';

const T0 = 1_800_000_000_000;
const TTL = 1_000;

type Op =
  | { op: 'enqueue'; priority: TestPriority; wait: number }
  | { op: 'dispatch' }
  | { op: 'release'; pick: number }
  | { op: 'releaseStale'; pick: number }
  | { op: 'renew'; pick: number }
  | { op: 'advance'; ms: number }
  | { op: 'cancel'; pick: number }
  | { op: 'die'; container: number }
  | { op: 'recover'; container: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('enqueue' as const), priority: fc.constantFrom(...TEST_PRIORITIES), wait: fc.integer({ min: 1, max: 5_000 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('dispatch' as const) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('release' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('releaseStale' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('renew' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 1_500 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('die' as const), container: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('recover' as const), container: fc.integer({ min: 1, max: 3 }) }) },
);

const order = (q: Pick<QueuedRequest, 'priority' | 'seq'>) => PRIORITY_RANK[q.priority] * 2 ** 32 + q.seq;

/**
 * Random interleavings of allocate / release / expire / cancel / container death against a store. After every
 * step: no container leased twice, no request lost, and every hand-out respected priority and arrival order.
 */
async function runScenario(store: PoolStore, ops: readonly Op[]): Promise<void> {
  let now = T0;
  await store.registerContainers([spec(1), spec(2), spec(3)], now);
  for (let i = 1; i <= 3; i++) await store.transition(`container-${i}`, 'Starting', 'Available', now);
  const enqueued = new Set<string>();
  const granted = new Map<string, Lease>();
  const cancelled = new Set<string>();
  const ended: Lease[] = [];
  let n = 0;
  // The fence floor a member gets when its lease ends: above every token granted so far, never lower than before.
  let nextToken = await store.nextToken();
  let highestGranted = 0;

  const checkGrants = async (grants: readonly Grant[]) => {
    for (const g of grants) {
      expect(enqueued.has(g.request.requestId)).toBe(true);
      expect(granted.has(g.request.requestId) || cancelled.has(g.request.requestId)).toBe(false);
      granted.set(g.request.requestId, g.lease);
      expect(g.lease.token).toBeGreaterThanOrEqual(nextToken);
      highestGranted = Math.max(highestGranted, g.lease.token);
    }
    if (grants.length === 0) return;
    const queue = await store.listQueue();
    for (const g of grants) {
      for (const q of queue) {
        // A waiting, unexpired request ahead of one that was served would be a priority violation.
        if (q.deadline > now) expect(order(q)).toBeGreaterThan(order(g.request));
      }
    }
  };

  const checkInvariants = async () => {
    const [leases, containers, queue] = await Promise.all([store.listLeases(), store.listContainers(), store.listQueue()]);
    const leasedContainers = leases.map((l) => l.containerId);
    expect(new Set(leasedContainers).size).toBe(leasedContainers.length);
    for (const c of containers) {
      const mine = leases.filter((l) => l.containerId === c.id);
      expect(mine.length).toBe(c.state === 'Allocated' ? 1 : 0);
      if (c.state === 'Allocated') expect(c.leaseId).toBe(mine[0]!.leaseId);
    }
    const next = await store.nextToken();
    expect(next).toBeGreaterThan(highestGranted);
    expect(next).toBeGreaterThanOrEqual(nextToken);
    nextToken = next;
    const queued = new Set(queue.map((q) => q.requestId));
    for (const id of enqueued) {
      const places = [queued.has(id), granted.has(id), cancelled.has(id)].filter(Boolean).length;
      expect(places, `request ${id} must be in exactly one place`).toBe(1);
    }
  };

  const activeLeases = async () => store.listLeases();

  for (const step of ops) {
    switch (step.op) {
      case 'enqueue': {
        const id = `r${++n}`;
        enqueued.add(id);
        const { grants } = await store.enqueue(
          { requestId: id, testRunId: id, priority: step.priority, requestedAt: now, deadline: now + step.wait, requirements: {}, attempt: 0 },
          now,
          TTL,
          1000,
        );
        await checkGrants(grants);
        break;
      }
      case 'dispatch':
        await checkGrants(await store.dispatch(now, TTL));
        break;
      case 'release': {
        const leases = await activeLeases();
        const lease = leases[step.pick % Math.max(1, leases.length)];
        if (!lease) break;
        if (lease.expiresAt <= now) {
          await expect(store.release(lease.leaseId, lease.token, now)).rejects.toMatchObject({ code: 'LEASE_EXPIRED' });
          break;
        }
        await store.release(lease.leaseId, lease.token, now);
        ended.push(lease);
        await store.transition(lease.containerId, 'Cleaning', 'Available', now);
        break;
      }
      case 'releaseStale': {
        const lease = ended[step.pick % Math.max(1, ended.length)];
        if (!lease) break;
        const before = JSON.stringify(await store.listContainers());
        await expect(store.release(lease.leaseId, lease.token, now)).rejects.toMatchObject({ name: 'PoolError' });
        expect(JSON.stringify(await store.listContainers())).toBe(before);
        break;
      }
      case 'renew': {
        const leases = await activeLeases();
        const lease = leases[step.pick % Math.max(1, leases.length)];
        if (lease && lease.expiresAt > now) await store.renew(lease.leaseId, lease.token, now, TTL);
        break;
      }
      case 'advance': {
        now += step.ms;
        const expired = await store.reclaimExpired(now);
        for (const lease of expired) {
          expect(lease.expiresAt).toBeLessThanOrEqual(now);
          ended.push(lease);
          await store.transition(lease.containerId, 'Cleaning', 'Available', now);
        }
        break;
      }
      case 'cancel': {
        const ids = [...enqueued].filter((id) => !cancelled.has(id));
        const id = ids[step.pick % Math.max(1, ids.length)];
        if (!id) break;
        const result = await store.cancel(id);
        if (result.status === 'cancelled') cancelled.add(id);
        else if (result.status === 'granted') expect(granted.get(id)?.leaseId).toBe(result.lease.leaseId);
        else expect(granted.has(id)).toBe(true);
        break;
      }
      case 'die': {
        const id = `container-${step.container}`;
        const c = await store.getContainer(id);
        if (c.state === 'Allocated' || c.state === 'Available') {
          const revoked = await store.revoke(id, now, 'killed');
          if (revoked) ended.push(revoked);
        } else {
          await expect(store.revoke(id, now, 'killed')).rejects.toMatchObject({ code: 'INVALID_TRANSITION' });
        }
        break;
      }
      case 'recover': {
        const id = `container-${step.container}`;
        const c = await store.getContainer(id);
        if (c.state === 'Unhealthy') {
          await store.transition(id, 'Unhealthy', 'Resetting', now);
          await store.transition(id, 'Resetting', 'Available', now);
          await checkGrants(await store.dispatch(now, TTL));
        }
        break;
      }
    }
    await checkInvariants();
  }

  // Drain: every request ends allocated, timed out (cancelled after its deadline) or cancelled.
  for (const q of await store.listQueue()) {
    const result = await store.cancel(q.requestId);
    expect(result.status).toBe('cancelled');
    cancelled.add(q.requestId);
  }
  expect(granted.size + cancelled.size).toBe(enqueued.size);
}

export function describePoolStoreProperties(name: string, makeStore: () => Promise<StoreHandle>, runs = 100): void {
  describe(`PoolStore properties: ${name}`, () => {
    it('random interleavings never lease a container twice, never lose a request, respect priority order, and nextToken stays above every grant', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), async (ops) => {
          const handle = await makeStore();
          try {
            await runScenario(handle.store, ops);
          } finally {
            await handle.cleanup();
          }
        }),
        { numRuns: runs },
      );
    });
  });
  describeTenantProperties(name, makeStore);
}
