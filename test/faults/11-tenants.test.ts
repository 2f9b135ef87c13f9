/**
 * Fault case of issue 11 — two tenants with quota 1 on 2 members: two coordinators (ContainerPoolManagers)
 * share one pool on real Redis, one queueing for team-a, the other for team-b, each with tenantQuota 1. Service
 * interleaves the tenants (a, b, a, b …), no tenant ever holds two leases, a tenant at its quota waits with a
 * member free and does not hold up the other; a critical request of team-b,
 * queued after all of team-a's normal ones, is served before any of them. The subject is scheduling across
 * coordinators, so the members are fakes; the grant order is read from the fencing tokens the store gave (a
 * token grows with every grant), not from when each coordinator heard of its grant.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePoolOptions } from '../../src/config/pool-config.js';
import type { PoolOptionsInput } from '../../src/config/schemas.js';
import type { TestPriority } from '../../src/domain/priority.js';
import type { Allocation, ContainerPoolManager } from '../../src/pool/container-pool-manager.js';
import { RedisPoolStore } from '../../src/store/redis-store.js';
import { FakeFence, FakeRuntime } from '../support/fakes.js';
import { freePorts } from '../support/ports.js';
import { deletePrefix, startTestRedis, uniquePrefix, type TestRedis } from '../support/redis-server.js';
import { fakeMembersManager, until, uniquePoolId } from './support/fake-pool.js';
import { reportFault } from './support/report.js';

let server: TestRedis;
let admin: Redis;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  server = await startTestRedis();
  admin = server.connect();
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await admin?.quit();
  await server?.stop();
});

describe('fault: two tenants with quota 1 on 2 members (issue 11)', () => {
  it('serves the tenants in turn, never two leases of one tenant, and a critical request overtakes the other tenant’s normal ones', async () => {
    const prefix = uniquePrefix('tenants');
    const poolId = uniquePoolId('tenants');
    const ports = await freePorts(2);
    // Both coordinators run the same members (one runtime, one fence: what one host's members are to both).
    const runtime = new FakeRuntime();
    const fence = new FakeFence();
    const coordinator = (tenant: string) => {
      const options: PoolOptionsInput = {
        poolId,
        tenant,
        tenantQuota: 1,
        containerSpecs: ports.map((port, i) => ({ id: `container-${i + 1}`, name: `${poolId}-${i + 1}`, port })),
        // Generous bounds: nothing may expire or time out on a loaded machine; the order is the subject.
        lease: { ttlMs: 120_000 },
        resources: { maxWaitTimeMs: 120_000, maxConcurrentAllocations: 100, queueSizeThreshold: 1_000 },
      };
      const store = new RedisPoolStore({ redis: server.url, keyPrefix: prefix });
      const manager = fakeMembersManager(parsePoolOptions(options), store, { runtime, fence });
      cleanups.push(() => store.close(), () => manager.shutdown());
      return { manager, store };
    };
    cleanups.push(() => deletePrefix(admin, prefix));
    const a = coordinator('team-a');
    await a.manager.initialize();
    const b = coordinator('team-b');
    await b.manager.resume();

    const granted = new Map<string, Allocation & { manager: ContainerPoolManager }>();
    const ask = (side: typeof a, testRunId: string, priority: TestPriority) =>
      void side.manager.allocateContainerAdvanced({ testRunId, priority }).then((allocation) => granted.set(testRunId, { ...allocation, manager: side.manager }));
    const grantedCount = (n: number) => until(`${n} grants`, () => granted.size >= n);
    const queued = (n: number) => until(`${n} queued`, async () => (await a.store.listQueue()).length >= n);

    // team-a holds one member; its next request waits although the other member is free (quota 1) …
    ask(a, 'a-hold', 'normal');
    await grantedCount(1);
    ask(a, 'a1', 'normal');
    await queued(1);
    expect((await a.store.listContainers()).map((c) => c.state).sort()).toEqual(['Allocated', 'Available']);
    // … and does not hold up team-b, whose request takes that member at once.
    ask(b, 'b-hold', 'normal');
    await grantedCount(2);
    expect(granted.has('a1')).toBe(false);
    // Then the queue forms in a known arrival order.
    const arrivals: Array<[typeof a, string, TestPriority]> = [
      [a, 'a1', 'normal'],
      [a, 'a2', 'normal'],
      [a, 'a3', 'normal'],
      [b, 'b1', 'normal'],
      [b, 'b2', 'normal'],
      [b, 'b3', 'normal'],
      [b, 'b-critical', 'critical'],
    ];
    for (const [i, [side, id, priority]] of arrivals.entries()) {
      if (i === 0) continue; // a1, queued above
      ask(side, id, priority);
      await queued(i + 1);
    }
    expect((await a.store.listQueue()).map((q) => [q.testRunId, q.tenant, q.tenantQuota])).toEqual([
      ['b-critical', 'team-b', 1],
      ...arrivals.slice(0, 6).map(([, id]) => [id, id.startsWith('a') ? 'team-a' : 'team-b', 1]),
    ]);

    // Release one holder at a time (team-b's first, so its critical request may go; then always the oldest)
    // and wait for the grant that follows. At every step no tenant holds two leases.
    const maxPerTenant: number[] = [];
    const release = async (id: string) => {
      const held = granted.get(id)!;
      const done = await held.manager.releaseContainer({ leaseId: held.lease.leaseId, token: held.lease.token });
      await done.recycled;
    };
    const firsts = ['b-hold', 'a-hold'];
    let oldest: string | undefined;
    for (let step = 0; step < arrivals.length; step++) {
      const before = granted.size;
      await release(firsts.shift() ?? oldest!);
      await grantedCount(before + 1);
      const leases = (await a.store.listLeases()).sort((x, y) => x.token - y.token);
      const perTenant = new Map<string, number>();
      for (const l of leases) perTenant.set(l.tenant ?? '', (perTenant.get(l.tenant ?? '') ?? 0) + 1);
      maxPerTenant.push(Math.max(...perTenant.values()));
      oldest = leases[0]?.testRunId;
    }

    const byToken = [...granted.entries()].sort(([, x], [, y]) => x.lease.token - y.lease.token).map(([id]) => id);
    const served = byToken.filter((id) => !id.endsWith('-hold'));
    const expected = ['b-critical', 'a1', 'b1', 'a2', 'b2', 'a3', 'b3'];
    const tenants = served.map((id) => granted.get(id)!.lease.tenant);
    await b.manager.getAuditLog(); // flushes b's batch into the shared store
    const audit = await a.manager.getAuditLog();
    const auditTenants = audit.filter((e) => e.type === 'allocated').map((e) => e.detail?.['tenant']);
    const twoOfOne = maxPerTenant.filter((n) => n > 1).length;
    reportFault(
      'two tenants, quota 1, 2 members (shared Redis, 2 coordinators)',
      expected.length,
      served.filter((id, i) => id === expected[i]).length - twoOfOne,
      `grant order ${served.join(' ')}; most leases of one tenant at once: ${Math.max(...maxPerTenant)}`,
    );
    expect(served).toEqual(expected);
    expect(tenants).toEqual(['team-b', 'team-a', 'team-b', 'team-a', 'team-b', 'team-a', 'team-b']);
    expect(maxPerTenant).toEqual(Array.from({ length: arrivals.length }, () => 1));
    // b-critical arrived after every request of team-a and was granted before any of them.
    expect(granted.get('b-critical')!.lease.token).toBeLessThan(Math.min(...['a1', 'a2', 'a3'].map((id) => granted.get(id)!.lease.token)));
    // Both coordinators' audit records name the tenant (read from the shared store).
    expect(auditTenants.filter((t) => t === 'team-a')).toHaveLength(4);
    expect(auditTenants.filter((t) => t === 'team-b')).toHaveLength(5);
  });
});
