import { describe, expect, it } from 'vitest';
import type { TestPriority } from '../../src/domain/priority.js';
import type { Grant, NewRequest, PoolStore } from '../../src/store/pool-store.js';

const T0 = 1_800_000_000_000;
const TTL = 15_000;

export interface TenantCaseContext {
  store(): PoolStore;
  /** Registers n containers (container-1..n), the first `available` of them Available. */
  pool(n: number, available?: number): Promise<void>;
}

function tenantRequest(id: string, tenant: string | undefined, priority: TestPriority = 'normal', extra: Partial<NewRequest> = {}): NewRequest {
  return {
    requestId: id,
    testRunId: `run-${id}`,
    priority,
    requestedAt: T0,
    deadline: T0 + 60_000,
    requirements: {},
    attempt: 0,
    ...(tenant !== undefined ? { tenant } : {}),
    ...extra,
  };
}

const ids = (grants: readonly Grant[]) => grants.map((g) => g.request.requestId);

/** Tenants and fair share (issue 11): the same cases on every PoolStore, called inside its contract. */
export function describeTenantCases(ctx: TenantCaseContext): void {
  describe('tenants', () => {
    async function queueAll(requests: NewRequest[]): Promise<void> {
      for (const r of requests) expect((await ctx.store().enqueue(r, T0, TTL, 100)).grants).toEqual([]);
    }
    async function makeAvailable(...containerIds: string[]): Promise<void> {
      for (const id of containerIds) await ctx.store().transition(id, 'Starting', 'Available', T0);
    }

    it('shares a level between tenants: the next grant goes to the tenant with the fewest leases, ties by arrival', async () => {
      await ctx.pool(2, 0);
      await queueAll(['a1', 'a2', 'a3'].map((id) => tenantRequest(id, 'team-a')).concat(tenantRequest('b1', 'team-b')));
      await makeAvailable('container-1', 'container-2');
      const grants = await ctx.store().dispatch(T0, TTL);
      // Seq order alone would give a1, a2: b1 arrived last but its tenant held nothing.
      expect(ids(grants)).toEqual(['a1', 'b1']);
      expect(grants.map((g) => g.lease.tenant)).toEqual(['team-a', 'team-b']);
      expect((await ctx.store().listQueue()).map((q) => q.requestId)).toEqual(['a2', 'a3']);
    });

    it('quota 1 on 2 members: service interleaves the tenants and no tenant ever holds two leases', async () => {
      await ctx.pool(2, 0);
      const quota = { tenantQuota: 1 };
      await queueAll([
        ...['a1', 'a2', 'a3'].map((id) => tenantRequest(id, 'team-a', 'normal', quota)),
        ...['b1', 'b2', 'b3'].map((id) => tenantRequest(id, 'team-b', 'normal', quota)),
      ]);
      await makeAvailable('container-1', 'container-2');
      const store = ctx.store();
      const served = ids(await store.dispatch(T0, TTL));
      for (let step = 1; step <= 4; step++) {
        const leases = await store.listLeases();
        expect(new Set(leases.map((l) => l.tenant)).size).toBe(leases.length);
        const oldest = leases.reduce((a, b) => (a.token < b.token ? a : b));
        await store.release(oldest.leaseId, oldest.token, T0 + step);
        await store.transition(oldest.containerId, 'Cleaning', 'Available', T0 + step);
        served.push(...ids(await store.dispatch(T0 + step, TTL)));
      }
      expect(served).toEqual(['a1', 'b1', 'a2', 'b2', 'a3', 'b3']);
    });

    it('priority still wins across levels: a critical request of one tenant overtakes the other tenant’s earlier normal ones', async () => {
      await ctx.pool(2, 0);
      const quota = { tenantQuota: 1 };
      await queueAll([
        tenantRequest('a1', 'team-a', 'normal', quota),
        tenantRequest('a2', 'team-a', 'normal', quota),
        tenantRequest('b1', 'team-b', 'normal', quota),
        tenantRequest('b-critical', 'team-b', 'critical', quota),
      ]);
      await makeAvailable('container-1', 'container-2');
      // b-critical first; then team-b is at its quota, so b1 waits and a1 takes the other member.
      expect(ids(await ctx.store().dispatch(T0, TTL))).toEqual(['b-critical', 'a1']);
    });

    it('a critical request is served before a normal one even when its tenant holds more leases', async () => {
      await ctx.pool(3, 2);
      const store = ctx.store();
      for (const id of ['b1', 'b2']) expect((await store.enqueue(tenantRequest(id, 'team-b'), T0, TTL, 100)).grants).toHaveLength(1);
      await queueAll([tenantRequest('a1', 'team-a'), tenantRequest('b-critical', 'team-b', 'critical')]);
      await makeAvailable('container-3');
      expect(ids(await store.dispatch(T0, TTL))).toEqual(['b-critical']);
    });

    it('a tenant at its quota is passed over and does not hold up a tenant behind it', async () => {
      await ctx.pool(4, 3);
      const store = ctx.store();
      expect((await store.enqueue(tenantRequest('a1', 'team-a', 'normal', { tenantQuota: 1 }), T0, TTL, 100)).grants).toHaveLength(1);
      for (const id of ['b1', 'b2']) expect((await store.enqueue(tenantRequest(id, 'team-b'), T0, TTL, 100)).grants).toHaveLength(1);
      await queueAll([tenantRequest('a2', 'team-a', 'normal', { tenantQuota: 1 }), tenantRequest('b3', 'team-b')]);
      await makeAvailable('container-4');
      // team-a holds fewer leases (1 < 2) but is at its quota: team-b's later request takes the member.
      expect(ids(await store.dispatch(T0, TTL))).toEqual(['b3']);
      expect((await store.listQueue()).map((q) => q.requestId)).toEqual(['a2']);
      const a1 = (await store.listLeases()).find((l) => l.requestId === 'a1')!;
      await store.release(a1.leaseId, a1.token, T0 + 1);
      await store.transition(a1.containerId, 'Cleaning', 'Available', T0 + 1);
      expect(ids(await store.dispatch(T0 + 1, TTL))).toEqual(['a2']);
    });

    it('keeps the tenant on the lease and on the Allocated container; no tenant and \'\' are the default tenant, left out', async () => {
      await ctx.pool(3);
      const store = ctx.store();
      const [a] = (await store.enqueue(tenantRequest('a1', 'team-a', 'normal', { tenantQuota: 2 }), T0, TTL, 100)).grants;
      expect(a!.request).toMatchObject({ tenant: 'team-a', tenantQuota: 2 });
      expect(a!.lease.tenant).toBe('team-a');
      expect(await store.getLease(a!.lease.leaseId)).toEqual(a!.lease);
      expect((await store.getContainer('container-1')).tenant).toBe('team-a');
      const { grants, queued } = await store.enqueue(tenantRequest('d1', ''), T0, TTL, 100);
      expect('tenant' in queued).toBe(false);
      expect('tenant' in grants[0]!.lease).toBe(false);
      expect('tenant' in (await store.getContainer('container-2'))).toBe(false);
      await store.release(a!.lease.leaseId, a!.lease.token, T0 + 1);
      expect('tenant' in (await store.getContainer('container-1'))).toBe(false);
    });

    it('requests without a tenant share as the default tenant', async () => {
      await ctx.pool(2, 0);
      await queueAll([tenantRequest('u1', undefined), tenantRequest('u2', undefined), tenantRequest('a1', 'team-a')]);
      await makeAvailable('container-1', 'container-2');
      expect(ids(await ctx.store().dispatch(T0, TTL))).toEqual(['u1', 'a1']);
    });
  });
}
