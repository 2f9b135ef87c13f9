import { beforeEach, afterEach, describe, expect, it } from 'vitest';
import type { ContainerSpec } from '../../src/config/pool-config.js';
import type { TestPriority } from '../../src/domain/priority.js';
import type { Lease, NewRequest, PoolStore } from '../../src/store/pool-store.js';
import { refusalError, type StoreRefusal } from '../../src/store/store-refusals.js';
import { describeTenantCases } from './pool-store-tenants.contract.js';

export interface StoreHandle {
  store: PoolStore;
  cleanup(): Promise<void>;
}

const T0 = 1_800_000_000_000;
const TTL = 15_000;

export function spec(i: number, overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  return { id: `container-${i}`, name: `cinnamon-qa-mcp-${i}`, port: 3000 + i, memoryMB: 512, cpuPercent: 80, ...overrides };
}

export function request(id: string, priority: TestPriority = 'normal', overrides: Partial<NewRequest> = {}): NewRequest {
  return {
    requestId: id,
    testRunId: `run-${id}`,
    priority,
    requestedAt: T0,
    deadline: T0 + 60_000,
    requirements: {},
    attempt: 0,
    ...overrides,
  };
}

/**
 * The call is refused with exactly the error store-refusals.ts builds for `refusal`: code, message and data.
 * Both stores build refusals with that one function, so both must pass this with the same arguments.
 */
async function expectRefusal(promise: Promise<unknown>, refusal: StoreRefusal): Promise<void> {
  const expected = refusalError(refusal);
  await expect(promise).rejects.toMatchObject({ name: 'PoolError', code: expected.code, message: expected.message, data: expected.data });
}

/** The behaviour every PoolStore must show. Runs against the memory store and against real Redis. */
export function describePoolStoreContract(name: string, makeStore: () => Promise<StoreHandle>): void {
  describe(`PoolStore contract: ${name}`, () => {
    let handle: StoreHandle;
    let store: PoolStore;

    beforeEach(async () => {
      handle = await makeStore();
      store = handle.store;
    });
    afterEach(async () => {
      await handle.cleanup();
    });

    async function pool(n: number, available = n): Promise<void> {
      await store.registerContainers(Array.from({ length: n }, (_, i) => spec(i + 1)), T0);
      for (let i = 1; i <= available; i++) await store.transition(`container-${i}`, 'Starting', 'Available', T0);
    }

    describeTenantCases({ store: () => store, pool });

    describe('containers', () => {
      it('registers containers in Starting, in order, with their limits', async () => {
        const records = await store.registerContainers([spec(1), spec(2, { memoryMB: 1024 })], T0);
        expect(records.map((r) => [r.id, r.state])).toEqual([
          ['container-1', 'Starting'],
          ['container-2', 'Starting'],
        ]);
        const listed = await store.listContainers();
        expect(listed.map((c) => c.id)).toEqual(['container-1', 'container-2']);
        expect(listed[1]!.limits).toEqual({ memoryMB: 1024, cpuPercent: 80 });
        expect(listed[0]!.port).toBe(3001);
      });

      it('refuses an unknown container id', async () => {
        await pool(1);
        const unknown: StoreRefusal = { kind: 'UNKNOWN_CONTAINER', containerId: 'container-9' };
        await expectRefusal(store.getContainer('container-9'), unknown);
        await expectRefusal(store.transition('container-9', 'Starting', 'Available', T0), unknown);
      });

      it('transitions only from the expected state (compare-and-set) and changes nothing otherwise', async () => {
        await pool(1, 0);
        await expectRefusal(store.transition('container-1', 'Available', 'Unhealthy', T0), {
          kind: 'INVALID_TRANSITION',
          containerId: 'container-1',
          from: 'Available',
          to: 'Unhealthy',
          actual: 'Starting',
        });
        expect((await store.getContainer('container-1')).state).toBe('Starting');
        const rec = await store.transition('container-1', 'Starting', 'Available', T0 + 5);
        expect(rec.state).toBe('Available');
        expect(rec.stateChangedAt).toBe(T0 + 5);
      });

      it('enters or leaves Allocated only through leases', async () => {
        await pool(1);
        await expectRefusal(store.transition('container-1', 'Available', 'Allocated', T0), {
          kind: 'ALLOCATED_BY_LEASE_ONLY',
          containerId: 'container-1',
          from: 'Available',
          to: 'Allocated',
          actual: 'Available',
        });
        expect((await store.getContainer('container-1')).state).toBe('Available');
      });

      it('counts failures given with an error and clears them on Available', async () => {
        await pool(1, 0);
        await store.transition('container-1', 'Starting', 'Unhealthy', T0, 'health stage mcp failed');
        const rec = await store.transition('container-1', 'Unhealthy', 'Resetting', T0, 'still failing');
        expect(rec.consecutiveFailures).toBe(2);
        expect(rec.lastError).toBe('still failing');
        const ok = await store.transition('container-1', 'Resetting', 'Available', T0);
        expect(ok.consecutiveFailures).toBe(0);
      });

      it('records usage', async () => {
        await pool(1);
        await store.recordUsage('container-1', { memoryMB: 200, cpuPercent: 12.5, at: T0 });
        expect((await store.getContainer('container-1')).usage).toEqual({ memoryMB: 200, cpuPercent: 12.5, at: T0 });
      });
    });

    describe('allocation', () => {
      it('grants an idle container at once, with a lease', async () => {
        await pool(2);
        const { grants, queued } = await store.enqueue(request('a'), T0, TTL, 10);
        expect(queued.seq).toBeGreaterThan(0);
        expect(grants).toHaveLength(1);
        const { lease } = grants[0]!;
        expect(lease).toMatchObject({ containerId: 'container-1', requestId: 'a', testRunId: 'run-a', grantedAt: T0, expiresAt: T0 + TTL, ttlMs: TTL });
        expect(lease.leaseId).toEqual(expect.any(String));
        const c1 = await store.getContainer('container-1');
        expect(c1.state).toBe('Allocated');
        expect(c1.leaseId).toBe(lease.leaseId);
        expect(await store.listQueue()).toEqual([]);
        expect((await store.getCounters()).allocations).toBe(1);
        expect(await store.getLease(lease.leaseId)).toEqual(lease);
      });

      it('serves critical > high > normal > low, first come first served inside a level', async () => {
        await pool(1, 0);
        const order: Array<[string, TestPriority]> = [
          ['low-1', 'low'],
          ['normal-1', 'normal'],
          ['critical-1', 'critical'],
          ['high-1', 'high'],
          ['normal-2', 'normal'],
          ['critical-2', 'critical'],
        ];
        for (const [id, p] of order) expect((await store.enqueue(request(id, p), T0, TTL, 100)).grants).toEqual([]);
        expect((await store.listQueue()).map((q) => q.requestId)).toEqual(['critical-1', 'critical-2', 'high-1', 'normal-1', 'normal-2', 'low-1']);
        await store.transition('container-1', 'Starting', 'Available', T0);
        const served: string[] = [];
        for (let i = 0; i < order.length; i++) {
          const grants = await store.dispatch(T0 + i, TTL);
          expect(grants).toHaveLength(1);
          served.push(grants[0]!.request.requestId);
          await store.release(grants[0]!.lease.leaseId, grants[0]!.lease.token, T0 + i);
          await store.transition('container-1', 'Cleaning', 'Available', T0 + i);
        }
        expect(served).toEqual(['critical-1', 'critical-2', 'high-1', 'normal-1', 'normal-2', 'low-1']);
      });

      it('never leases one container twice, even to simultaneous requests', async () => {
        await pool(1);
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) => store.enqueue(request(`r${i}`, 'normal'), T0, TTL, 100)),
        );
        const grants = results.flatMap((r) => r.grants);
        expect(grants).toHaveLength(1);
        expect((await store.listLeases()).length).toBe(1);
        expect((await store.listQueue()).length).toBe(7);
        expect(await store.dispatch(T0, TTL)).toEqual([]);
      });

      it('fencing tokens only grow', async () => {
        await pool(1);
        const tokens: number[] = [];
        for (let i = 0; i < 5; i++) {
          const { grants } = await store.enqueue(request(`t${i}`), T0, TTL, 10);
          const lease = grants[0]!.lease;
          tokens.push(lease.token);
          await store.release(lease.leaseId, lease.token, T0);
          await store.transition('container-1', 'Cleaning', 'Available', T0);
        }
        expect([...tokens].sort((a, b) => a - b)).toEqual(tokens);
        expect(new Set(tokens).size).toBe(tokens.length);
      });

      it('nextToken: 1 before any grant, then exactly the token the next grant gets; never lower after a release, expiry or revocation', async () => {
        await pool(2, 1);
        expect(await store.nextToken()).toBe(1);
        const readings: number[] = [1];
        const read = async () => {
          const next = await store.nextToken();
          readings.push(next);
          return next;
        };
        // Granted at once (enqueue), then through the queue (dispatch): both take the token nextToken named.
        const first = (await store.enqueue(request('a'), T0, TTL, 10)).grants[0]!.lease;
        expect(first.token).toBe(1);
        expect(await read()).toBe(first.token + 1);
        expect((await store.enqueue(request('b'), T0, TTL, 10)).grants).toEqual([]);
        expect(await read()).toBe(first.token + 1); // a queued request takes no token
        await store.transition('container-2', 'Starting', 'Available', T0);
        const second = (await store.dispatch(T0, TTL))[0]!.lease;
        expect(second.token).toBe(first.token + 1);
        expect(await read()).toBe(second.token + 1);

        await store.release(first.leaseId, first.token, T0 + 1);
        expect(await read()).toBe(second.token + 1);
        expect(await store.reclaimExpired(T0 + TTL)).toEqual([expect.objectContaining({ leaseId: second.leaseId })]);
        expect(await read()).toBe(second.token + 1);
        await store.transition('container-1', 'Cleaning', 'Available', T0 + TTL);
        const third = (await store.enqueue(request('c'), T0 + TTL, TTL, 10)).grants[0]!.lease;
        expect(third.token).toBe(second.token + 1);
        await store.revoke(third.containerId, T0 + TTL + 1, 'died');
        expect(await read()).toBe(third.token + 1);

        expect([...readings].sort((x, y) => x - y)).toEqual(readings);
        for (const ended of [first, second, third]) expect(ended.token).toBeLessThan(readings.at(-1)!);
      });

      it('does not serve a request whose deadline has passed', async () => {
        await pool(1, 0);
        await store.enqueue(request('late', 'critical', { deadline: T0 + 10 }), T0, TTL, 10);
        await store.enqueue(request('ok', 'low'), T0, TTL, 10);
        await store.transition('container-1', 'Starting', 'Available', T0);
        const grants = await store.dispatch(T0 + 10, TTL);
        expect(grants.map((g) => g.request.requestId)).toEqual(['ok']);
        expect((await store.listQueue()).map((q) => q.requestId)).toEqual(['late']);
      });

      it('refuses a duplicate request id and changes nothing', async () => {
        await pool(1, 0);
        await store.enqueue(request('a'), T0, TTL, 10);
        await expectRefusal(store.enqueue(request('a'), T0, TTL, 10), { kind: 'DUPLICATE_REQUEST', requestId: 'a' });
        expect((await store.listQueue()).length).toBe(1);
      });

      it('bounds waiting + active requests by maxConcurrent', async () => {
        await pool(1);
        await store.enqueue(request('a'), T0, TTL, 2);
        await store.enqueue(request('b'), T0, TTL, 2);
        await expectRefusal(store.enqueue(request('c'), T0, TTL, 2), { kind: 'CONCURRENCY_LIMIT', active: 2, maxConcurrent: 2, testRunId: 'run-c' });
        expect((await store.listQueue()).map((q) => q.requestId)).toEqual(['b']);
        expect((await store.listLeases()).length).toBe(1);
      });

      it('refuses at once a request no container can ever satisfy', async () => {
        await pool(2);
        const largestLimits = { memoryMB: 512, cpuPercent: 80 };
        await expectRefusal(store.enqueue(request('big', 'normal', { requirements: { minMemoryMB: 4096 } }), T0, TTL, 10), {
          kind: 'UNSATISFIABLE_REQUEST',
          requirements: { minMemoryMB: 4096 },
          largestLimits,
        });
        await expectRefusal(store.enqueue(request('cpu', 'normal', { requirements: { maxCpuPercent: 400 } }), T0, TTL, 10), {
          kind: 'UNSATISFIABLE_REQUEST',
          requirements: { maxCpuPercent: 400 },
          largestLimits,
        });
        expect(await store.listQueue()).toEqual([]);
        expect(await store.listLeases()).toEqual([]);
      });

      it('matches requirements against limits and last measured usage, without blocking the line', async () => {
        await store.registerContainers([spec(1, { memoryMB: 512 }), spec(2, { memoryMB: 1024 })], T0);
        await store.recordUsage('container-2', { memoryMB: 800, cpuPercent: 5, at: T0 });
        await store.transition('container-2', 'Starting', 'Available', T0);
        // container-2 has 224 MB free: the critical request needing 600 MB must wait, the low one fits.
        const first = await store.enqueue(request('needs-600', 'critical', { requirements: { minMemoryMB: 600 } }), T0, TTL, 10);
        expect(first.grants).toEqual([]);
        const second = await store.enqueue(request('small', 'low', { requirements: { minMemoryMB: 100 } }), T0, TTL, 10);
        expect(second.grants.map((g) => [g.request.requestId, g.lease.containerId])).toEqual([['small', 'container-2']]);
        await store.transition('container-1', 'Starting', 'Available', T0);
        expect(await store.dispatch(T0, TTL)).toEqual([]);
        await store.recordUsage('container-2', { memoryMB: 100, cpuPercent: 1, at: T0 });
        const lease = second.grants[0]!.lease;
        await store.release(lease.leaseId, lease.token, T0);
        await store.transition('container-2', 'Cleaning', 'Available', T0);
        const later = await store.dispatch(T0, TTL);
        expect(later.map((g) => [g.request.requestId, g.lease.containerId])).toEqual([['needs-600', 'container-2']]);
      });

      it('cancels a queued request, reports a granted one, and ignores an unknown one', async () => {
        await pool(1, 0);
        await store.enqueue(request('a'), T0, TTL, 10);
        await store.enqueue(request('b'), T0, TTL, 10);
        expect(await store.cancel('a')).toMatchObject({ status: 'cancelled', request: { requestId: 'a' } });
        await store.transition('container-1', 'Starting', 'Available', T0);
        const [grant] = await store.dispatch(T0, TTL);
        expect(grant!.request.requestId).toBe('b');
        expect(await store.cancel('b')).toEqual({ status: 'granted', lease: grant!.lease });
        expect(await store.cancel('nope')).toEqual({ status: 'unknown' });
        expect(await store.listQueue()).toEqual([]);
      });

      it('grantsFor: the request as granted and its active lease, in the order asked, nothing for others', async () => {
        await pool(1, 0);
        const a = (await store.enqueue(request('a', 'high', { requirements: { minMemoryMB: 100 }, attempt: 1 }), T0, TTL, 10)).queued;
        await store.enqueue(request('b'), T0, TTL, 10);
        expect(await store.grantsFor(['a', 'b', 'unknown'])).toEqual([]);
        await store.transition('container-1', 'Starting', 'Available', T0);
        const [grant] = await store.dispatch(T0, TTL);
        expect(grant!.request.requestId).toBe('a');
        expect(await store.grantsFor(['unknown', 'b', 'a', 'a'])).toEqual([{ request: a, lease: grant!.lease }]);
        const renewed = await store.renew(grant!.lease.leaseId, grant!.lease.token, T0 + 1_000, TTL);
        expect(await store.grantsFor(['a'])).toEqual([{ request: a, lease: renewed }]);
        await store.release(grant!.lease.leaseId, grant!.lease.token, T0 + 2_000);
        expect(await store.grantsFor(['a', 'b'])).toEqual([]);
        expect(await store.grantsFor([])).toEqual([]);
      });

      it('a lease keeps its try\'s arrival counter and when it was queued (store time), granted at once or later', async () => {
        await pool(1);
        const first = await store.enqueue(request('first', 'low'), T0 + 5, TTL, 10);
        expect(first.queued).toMatchObject({ seq: expect.any(Number), queuedAt: T0 + 5 });
        expect(first.grants[0]!.lease).toMatchObject({ seq: first.queued.seq, queuedAt: T0 + 5, grantedAt: T0 + 5 });
        const waiting = await store.enqueue(request('waiting', 'critical', { requestedAt: T0 }), T0 + 10, TTL, 10);
        expect(waiting.grants).toEqual([]);
        expect(waiting.queued.seq).toBeGreaterThan(first.queued.seq);
        await store.release(first.grants[0]!.lease.leaseId, first.grants[0]!.lease.token, T0 + 20);
        await store.transition('container-1', 'Cleaning', 'Available', T0 + 30);
        const [grant] = await store.dispatch(T0 + 40, TTL);
        // requestedAt stays the caller's (the first try's, for a retry); queuedAt is this try's own arrival.
        expect(grant!.lease).toMatchObject({ requestId: 'waiting', seq: waiting.queued.seq, queuedAt: T0 + 10, requestedAt: T0, grantedAt: T0 + 40 });
        expect(await store.grantsFor(['waiting'])).toEqual([{ request: waiting.queued, lease: grant!.lease }]);
      });

      it('grantsFor: a request granted by its own enqueue', async () => {
        await pool(1);
        const { queued, grants } = await store.enqueue(request('now'), T0, TTL, 10);
        expect(await store.grantsFor(['now'])).toEqual([{ request: queued, lease: grants[0]!.lease }]);
      });
    });

    describe('leases', () => {
      async function leased(): Promise<Lease> {
        await pool(1);
        const { grants } = await store.enqueue(request('holder'), T0, TTL, 10);
        return grants[0]!.lease;
      }

      it('renews a lease with its token', async () => {
        const lease = await leased();
        const renewed = await store.renew(lease.leaseId, lease.token, T0 + 7_000, TTL);
        expect(renewed.expiresAt).toBe(T0 + 7_000 + TTL);
        expect((await store.getLease(lease.leaseId)).expiresAt).toBe(T0 + 7_000 + TTL);
      });

      it('refuses renew, release with a stale or foreign token and changes nothing', async () => {
        const lease = await leased();
        const held = { leaseId: lease.leaseId, containerId: 'container-1' };
        await expectRefusal(store.renew(lease.leaseId, lease.token + 1, T0 + 1, TTL), { kind: 'STALE_TOKEN', ...held, token: lease.token + 1, operation: 'renew' });
        await expectRefusal(store.release(lease.leaseId, lease.token - 1, T0 + 1), { kind: 'STALE_TOKEN', ...held, token: lease.token - 1, operation: 'release' });
        await expectRefusal(store.release('not-a-lease', lease.token, T0 + 1), { kind: 'UNKNOWN_LEASE', leaseId: 'not-a-lease', operation: 'release' });
        await expectRefusal(store.getLease('not-a-lease'), { kind: 'UNKNOWN_LEASE', leaseId: 'not-a-lease', operation: 'lookup' });
        expect(await store.getLease(lease.leaseId)).toEqual(lease);
        expect((await store.getContainer('container-1')).state).toBe('Allocated');
        expect((await store.getCounters()).releases).toBe(0);
      });

      it('releases: container goes to Cleaning; a second release is ALREADY_RELEASED', async () => {
        const lease = await leased();
        const released = await store.release(lease.leaseId, lease.token, T0 + 100);
        expect(released.leaseId).toBe(lease.leaseId);
        const c = await store.getContainer('container-1');
        expect(c.state).toBe('Cleaning');
        expect(c.leaseId).toBeUndefined();
        const ended = { lease, reason: 'released' as const, endedAt: T0 + 100 };
        await expectRefusal(store.release(lease.leaseId, lease.token, T0 + 200), { kind: 'LEASE_ENDED', ended, operation: 'release' });
        await expectRefusal(store.renew(lease.leaseId, lease.token, T0 + 200, TTL), { kind: 'LEASE_ENDED', ended, operation: 'renew' });
        await expectRefusal(store.getLease(lease.leaseId), { kind: 'LEASE_ENDED', ended, operation: 'lookup' });
        expect(refusalError({ kind: 'LEASE_ENDED', ended, operation: 'release' }).code).toBe('ALREADY_RELEASED');
        expect(await store.getEndedLease(lease.leaseId)).toMatchObject({ reason: 'released', endedAt: T0 + 100 });
        expect((await store.getCounters()).releases).toBe(1);
        expect((await store.getContainer('container-1')).state).toBe('Cleaning');
      });

      it('reclaims expired leases: container to Cleaning, late holder gets LEASE_EXPIRED', async () => {
        const lease = await leased();
        expect(await store.reclaimExpired(T0 + TTL - 1)).toEqual([]);
        // Past its expiry, not reclaimed yet: refused as if the sweep had run at expiresAt.
        const expired = { lease, reason: 'expired' as const, endedAt: T0 + TTL };
        await expectRefusal(store.renew(lease.leaseId, lease.token, T0 + TTL, TTL), { kind: 'LEASE_ENDED', ended: expired, operation: 'renew' });
        expect(refusalError({ kind: 'LEASE_ENDED', ended: expired, operation: 'renew' }).code).toBe('LEASE_EXPIRED');
        expect((await store.getContainer('container-1')).state).toBe('Allocated');
        const reclaimed = await store.reclaimExpired(T0 + TTL);
        expect(reclaimed.map((l) => l.leaseId)).toEqual([lease.leaseId]);
        expect((await store.getContainer('container-1')).state).toBe('Cleaning');
        await expectRefusal(store.release(lease.leaseId, lease.token, T0 + TTL + 1), { kind: 'LEASE_ENDED', ended: expired, operation: 'release' });
        expect((await store.getCounters()).expirations).toBe(1);
        expect(await store.listLeases()).toEqual([]);
      });

      it('revokes the lease of a container that died; its holder then gets LEASE_REVOKED', async () => {
        const lease = await leased();
        const revoked = await store.revoke('container-1', T0 + 5, 'container exited with code 137');
        expect(revoked?.leaseId).toBe(lease.leaseId);
        const c = await store.getContainer('container-1');
        expect(c.state).toBe('Unhealthy');
        expect(c.lastError).toBe('container exited with code 137');
        const ended = { lease, reason: 'revoked' as const, endedAt: T0 + 5 };
        await expectRefusal(store.release(lease.leaseId, lease.token, T0 + 6), { kind: 'LEASE_ENDED', ended, operation: 'release' });
        expect(refusalError({ kind: 'LEASE_ENDED', ended, operation: 'release' }).code).toBe('LEASE_REVOKED');
        expect((await store.getCounters()).revocations).toBe(1);
      });

      it('registering a leased container again ends its lease as revoked (the container it named is gone)', async () => {
        const lease = await leased();
        const [record] = await store.registerContainers([spec(1)], T0 + 5);
        expect(record!.state).toBe('Starting');
        expect(await store.listLeases()).toEqual([]);
        const ended = await store.getEndedLease(lease.leaseId);
        expect(ended).toMatchObject({ lease, reason: 'revoked' });
        await expectRefusal(store.renew(lease.leaseId, lease.token, T0 + 6, TTL), { kind: 'LEASE_ENDED', ended: ended!, operation: 'renew' });
      });

      it('revokes an idle container without a lease, refuses other states', async () => {
        await pool(2);
        expect(await store.revoke('container-2', T0, 'died')).toBeUndefined();
        expect((await store.getContainer('container-2')).state).toBe('Unhealthy');
        await expectRefusal(store.revoke('container-2', T0, 'again'), { kind: 'REVOKE_INVALID_STATE', containerId: 'container-2', actual: 'Unhealthy' });
      });

      it('a container that failed is never handed out', async () => {
        await pool(1);
        await store.revoke('container-1', T0, 'died');
        expect((await store.enqueue(request('a'), T0, TTL, 10)).grants).toEqual([]);
      });
    });

    describe('history, extensions, counters, audit', () => {
      it('keeps execution history per test and overall, capped', async () => {
        for (let i = 1; i <= 12; i++) await store.appendExecution(i % 2 ? 'odd' : 'even', i * 100, 5);
        expect(await store.getExecutions('odd')).toEqual([300, 500, 700, 900, 1100]);
        expect(await store.getExecutions('even')).toEqual([400, 600, 800, 1000, 1200]);
        expect(await store.getExecutions()).toEqual([800, 900, 1000, 1100, 1200]);
        expect(await store.getExecutions('never')).toEqual([]);
      });

      it('grants at most max extensions per test run', async () => {
        expect(await store.claimExtension('run-1', 2)).toBe(1);
        expect(await store.claimExtension('run-1', 2)).toBe(2);
        expect(await store.claimExtension('run-1', 2)).toBe(-1);
        expect(await store.getExtensionCount('run-1')).toBe(2);
        expect(await store.claimExtension('run-2', 2)).toBe(1);
      });

      it('counts and audits', async () => {
        await store.incrementCounter('failedAllocations');
        await store.incrementCounter('cancelledRequests', 3);
        expect(await store.getCounters()).toMatchObject({ failedAllocations: 1, cancelledRequests: 3, allocations: 0 });
        await store.appendAudit([
          { at: T0, type: 'allocated', actor: 'run-a', containerId: 'container-1', outcome: 'ok' },
          { at: T0 + 1, type: 'extension', actor: 'run-a', outcome: 'refused', detail: { reason: 'limit' } },
        ]);
        const audit = await store.listAudit();
        expect(audit.map((e) => e.type)).toEqual(['allocated', 'extension']);
        expect(audit[1]!.detail).toEqual({ reason: 'limit' });
      });
    });
  });
}
