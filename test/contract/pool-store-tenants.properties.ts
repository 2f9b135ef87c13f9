import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PRIORITY_RANK } from '../../src/domain/priority.js';
import { planDispatch, tenantOf } from '../../src/store/dispatch-plan.js';
import type { ContainerRecord, Grant, PoolStore, QueuedRequest } from '../../src/store/pool-store.js';
import { spec, type StoreHandle } from './pool-store.contract.js';

const T0 = 1_800_000_000_000;
/** Leases outlive every scenario: expiry is not the subject here. */
const TTL = 10_000_000;
/** Each tenant always asks with the same quota (as every shard of a tenant should); '' is the default tenant. */
const TENANTS: Record<string, number | undefined> = { 'team-a': 1, 'team-b': 2, 'team-c': undefined, '': undefined };

type Op =
  | { op: 'enqueue'; tenant: string; critical: boolean; wait: number; bigMemory: boolean; count: number }
  | { op: 'release'; pick: number }
  | { op: 'dispatch' }
  | { op: 'advance'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('enqueue' as const),
      tenant: fc.constantFrom(...Object.keys(TENANTS)),
      critical: fc.boolean(),
      wait: fc.integer({ min: 1, max: 20_000 }),
      bigMemory: fc.boolean(),
      // Bursts of one tenant: its requests queue ahead of another tenant's, which fair share must not starve.
      count: fc.integer({ min: 1, max: 4 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('release' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('dispatch' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 3_000 }) }) },
);

const serviceOrder = (x: QueuedRequest, y: QueuedRequest) => PRIORITY_RANK[x.priority] - PRIORITY_RANK[y.priority] || x.seq - y.seq;

/** Passes where fair share or a quota chose otherwise than plain seq order would (the property must meet some). */
let differentFromSeqOrder = 0;

/** What the pass must have granted, from the state before it: the pure planner (the memory store's own). */
function expectedGrants(queue: QueuedRequest[], containers: ContainerRecord[], active: Map<string, number>, now: number): string[] {
  const plan = (requests: QueuedRequest[], held: Map<string, number>) =>
    planDispatch([...requests].sort(serviceOrder), containers.filter((c) => c.state === 'Available'), held, now).map((g) => `${g.request.requestId}@${g.container.id}`);
  const expected = plan(queue, new Map(active));
  const untenanted = queue.map(({ tenant: _t, tenantQuota: _q, ...rest }) => rest);
  if (plan(untenanted, new Map()).join() !== expected.join()) differentFromSeqOrder++;
  return expected;
}

async function runScenario(store: PoolStore, ops: readonly Op[]): Promise<void> {
  let now = T0;
  // Two small members and one big one: requirements make some requests pass over free members.
  await store.registerContainers([spec(1, { memoryMB: 256 }), spec(2, { memoryMB: 256 }), spec(3, { memoryMB: 1024 })], now);
  for (let i = 1; i <= 3; i++) await store.transition(`container-${i}`, 'Starting', 'Available', now);
  let n = 0;
  const before = async () => {
    const [queue, containers, leases] = await Promise.all([store.listQueue(), store.listContainers(), store.listLeases()]);
    const active = new Map<string, number>();
    for (const l of leases) active.set(tenantOf(l), (active.get(tenantOf(l)) ?? 0) + 1);
    return { queue, containers, active };
  };
  const actual = (grants: readonly Grant[]) => grants.map((g) => `${g.request.requestId}@${g.lease.containerId}`);

  for (const step of ops) {
    if (step.op === 'enqueue') {
      for (let i = 0; i < step.count; i++) {
        const state = await before();
        const id = `r${++n}`;
        const quota = TENANTS[step.tenant];
        const { grants, queued } = await store.enqueue(
          {
            requestId: id,
            testRunId: id,
            priority: step.critical ? 'critical' : 'normal',
            requestedAt: now,
            deadline: now + step.wait,
            requirements: step.bigMemory ? { minMemoryMB: 512 } : {},
            attempt: 0,
            tenant: step.tenant,
            ...(quota !== undefined ? { tenantQuota: quota } : {}),
          },
          now,
          TTL,
          1_000,
        );
        expect(actual(grants)).toEqual(expectedGrants([...state.queue, queued], state.containers, state.active, now));
      }
    } else if (step.op === 'dispatch') {
      const state = await before();
      expect(actual(await store.dispatch(now, TTL))).toEqual(expectedGrants(state.queue, state.containers, state.active, now));
    } else if (step.op === 'release') {
      const leases = await store.listLeases();
      const lease = leases[step.pick % Math.max(1, leases.length)];
      if (!lease) continue;
      await store.release(lease.leaseId, lease.token, now);
      await store.transition(lease.containerId, 'Cleaning', 'Available', now);
      const state = await before();
      expect(actual(await store.dispatch(now, TTL))).toEqual(expectedGrants(state.queue, state.containers, state.active, now));
    } else {
      now += step.ms;
    }
    // A tenant never holds more than its quota.
    const held = (await before()).active;
    for (const [tenant, quota] of Object.entries(TENANTS)) if (quota !== undefined) expect(held.get(tenant) ?? 0).toBeLessThanOrEqual(quota);
  }
}

/** Random tenants, quotas, priorities, deadlines and requirements: every pass grants what planDispatch plans. */
export function describeTenantProperties(name: string, makeStore: () => Promise<StoreHandle>, runs = 100): void {
  describe(`PoolStore tenant properties: ${name}`, () => {
    it('each pass grants exactly what the fair-share planner chooses from the state before it, and no tenant exceeds its quota', async () => {
      differentFromSeqOrder = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 50 }), async (ops) => {
          const handle = await makeStore();
          try {
            await runScenario(handle.store, ops);
          } finally {
            await handle.cleanup();
          }
        }),
        { numRuns: runs },
      );
      // The runs met passes where tenants changed the choice: a store serving plain seq order would fail.
      expect(differentFromSeqOrder).toBeGreaterThan(runs / 4);
    });
  });
}
