import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RedisPoolStore } from '../../src/store/redis-store.js';
import { request, spec } from '../contract/pool-store.contract.js';
import { deletePrefix, uniquePrefix } from '../support/redis-server.js';
import { useTestRedis } from '../support/use-test-redis.js';

/** A coordinator whose clock is 30 s off (issue 11's fault case). */
const SKEW_MS = 30_000;
const LEASE_TTL = 10_000;
const WAIT_MS = 20_000;

const testRedis = useTestRedis();

async function redisNow(): Promise<number> {
  const [seconds, micros] = await testRedis.admin.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** Resolves with the first message a listener receives (the test's own timeout bounds the wait). */
function nextMessage(): { listener: (ids: string[]) => void; received: Promise<string[]> } {
  let resolve!: (ids: string[]) => void;
  const received = new Promise<string[]>((r) => (resolve = r));
  return { listener: (ids) => resolve(ids), received };
}

describe('Redis store on Redis time, with grant and recycle notices', () => {
  let prefix: string;
  let opened: RedisPoolStore[];

  function participant(serverTime = true): RedisPoolStore {
    const store = new RedisPoolStore({ redis: testRedis.server.url, keyPrefix: prefix, serverTime });
    opened.push(store);
    return store;
  }

  beforeEach(() => {
    prefix = uniquePrefix('server-time');
    opened = [];
  });

  afterEach(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await deletePrefix(testRedis.admin, prefix);
  });

  it('a coordinator whose clock is 30 s ahead does not reclaim a lease another one granted', async () => {
    const a = participant();
    const ahead = participant();
    await a.registerContainers([spec(1)], Date.now());
    await a.transition('container-1', 'Starting', 'Available', Date.now());
    const before = await redisNow();
    const { grants } = await a.enqueue(request('holder', 'normal', { requestedAt: Date.now(), deadline: Date.now() + WAIT_MS }), Date.now(), LEASE_TTL, 10);
    const after = await redisNow();
    const lease = grants[0]!.lease;
    // Lease times are Redis' own.
    expect(lease.grantedAt).toBeGreaterThanOrEqual(before);
    expect(lease.grantedAt).toBeLessThanOrEqual(after);
    expect(lease.expiresAt).toBe(lease.grantedAt + LEASE_TTL);

    // On its own clock the lease ran out 20 s ago; on Redis' it has most of its TTL left.
    expect(await ahead.reclaimExpired(Date.now() + SKEW_MS)).toEqual([]);
    expect(await ahead.listLeases()).toEqual([lease]);
    const renewed = await ahead.renew(lease.leaseId, lease.token, Date.now() + SKEW_MS, LEASE_TTL);
    expect(renewed.expiresAt).toBeLessThan(Date.now() + SKEW_MS);
    expect((await a.getContainer('container-1')).state).toBe('Allocated');
  });

  it('a coordinator whose clock is 30 s behind still gets its full wait: requestedAt and deadline are moved onto Redis time', async () => {
    const behind = participant();
    const other = participant();
    await other.registerContainers([spec(1)], Date.now());
    const callerNow = Date.now() - SKEW_MS;
    const before = await redisNow();
    const { queued, grants } = await behind.enqueue(
      request('late', 'normal', { requestedAt: callerNow, deadline: callerNow + WAIT_MS }),
      callerNow,
      LEASE_TTL,
      10,
    );
    const after = await redisNow();
    expect(grants).toEqual([]);
    expect(queued.deadline - queued.requestedAt).toBe(WAIT_MS);
    // Moved by (Redis now - caller now): requestedAt was the caller's now, so it is now Redis' now at the call.
    expect(queued.requestedAt).toBeGreaterThanOrEqual(before);
    expect(queued.requestedAt).toBeLessThanOrEqual(after);
    expect(await behind.listQueue()).toEqual([queued]);

    // Without the move its deadline would be 10 s in Redis' past and nobody would serve it.
    await other.transition('container-1', 'Starting', 'Available', Date.now());
    const served = await other.dispatch(Date.now(), LEASE_TTL);
    expect(served.map((g) => [g.request.requestId, g.lease.containerId])).toEqual([['late', 'container-1']]);
    expect(served[0]!.request).toEqual(queued);
  });

  it('state times are Redis time too', async () => {
    const behind = participant();
    const before = await redisNow();
    const [registered] = await behind.registerContainers([spec(1)], Date.now() - SKEW_MS);
    const moved = await behind.transition('container-1', 'Starting', 'Available', Date.now() - SKEW_MS);
    const after = await redisNow();
    for (const at of [registered!.stateChangedAt, moved.stateChangedAt, (await behind.getContainer('container-1')).stateChangedAt]) {
      expect(at).toBeGreaterThanOrEqual(before);
      expect(at).toBeLessThanOrEqual(after);
    }
  });

  it("subscribeGrants hears a grant another store instance made; grantsFor then hands it over", async () => {
    const waiter = participant(false);
    const granter = participant(false);
    await granter.registerContainers([spec(1)], Date.now());
    const { listener, received } = nextMessage();
    const unsubscribe = await waiter.subscribeGrants(listener);
    await waiter.enqueue(request('wanted'), Date.now(), LEASE_TTL, 10);
    await granter.transition('container-1', 'Starting', 'Available', Date.now());
    const [grant] = await granter.dispatch(Date.now(), LEASE_TTL);
    expect(await received).toEqual(['wanted']);
    expect(await waiter.grantsFor(await received)).toEqual([grant]);
    await unsubscribe();
    await unsubscribe();
  });

  it('grantsFor rebuilds the request from its lease when the granted record is gone (see PoolStore.grantsFor)', async () => {
    const store = participant();
    await store.registerContainers([spec(1)], Date.now());
    await store.transition('container-1', 'Starting', 'Available', Date.now());
    const { grants } = await store.enqueue(request('old', 'high', { requirements: { minMemoryMB: 10 }, attempt: 2 }), Date.now(), LEASE_TTL, 10);
    const lease = grants[0]!.lease;
    await testRedis.admin.del(store.keys.grantedRequest('old'));
    expect(await store.grantsFor(['old'])).toEqual([
      {
        request: { requestId: 'old', testRunId: 'run-old', priority: 'high', requestedAt: lease.requestedAt, deadline: lease.grantedAt, requirements: {}, attempt: 0, seq: 0 },
        lease,
      },
    ]);
  });

  it('subscribeRecycle hears the container a release sent to Cleaning, and one a revoke made Unhealthy', async () => {
    const agent = participant();
    const shard = participant();
    await shard.registerContainers([spec(1), spec(2)], Date.now());
    for (const id of ['container-1', 'container-2']) await shard.transition(id, 'Starting', 'Available', Date.now());
    const { grants } = await shard.enqueue(request('holder'), Date.now(), LEASE_TTL, 10);
    const lease = grants[0]!.lease;

    const released = nextMessage();
    const unsubscribe = await agent.subscribeRecycle(released.listener);
    await shard.release(lease.leaseId, lease.token, Date.now());
    expect(await released.received).toEqual([lease.containerId]);
    await unsubscribe();

    const revoked = nextMessage();
    await agent.subscribeRecycle(revoked.listener); // left open: close() ends it
    await shard.revoke('container-2', Date.now(), 'died');
    expect(await revoked.received).toEqual(['container-2']);
  });
});
