import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RedisKeys } from '../../src/store/redis-keys.js';
import { RedisPoolStore } from '../../src/store/redis-store.js';
import { request, spec } from '../contract/pool-store.contract.js';
import { deletePrefix, uniquePrefix } from '../support/redis-server.js';
import { useTestRedis } from '../support/use-test-redis.js';

/** A caller whose clock is far off: its `now` must not leak into queuedAt. */
const SKEW_MS = 30_000;
const LEASE_TTL = 10_000;
const WAIT_MS = 60_000;

const testRedis = useTestRedis();

async function redisNow(): Promise<number> {
  const [seconds, micros] = await testRedis.admin.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

describe('queuedAt on Redis time (serverTime): what the multi-host tier checks priority order with', () => {
  let prefix: string;
  let store: RedisPoolStore;

  beforeEach(() => {
    prefix = uniquePrefix('queued-at');
    store = new RedisPoolStore({ redis: testRedis.server.url, keyPrefix: prefix, serverTime: true });
  });

  afterEach(async () => {
    await store.close();
    await deletePrefix(testRedis.admin, prefix);
  });

  it('a waiting try is stamped with Redis time when queued, whatever the caller clock, and its lease and ended record keep the stamp', async () => {
    await store.registerContainers([spec(1)], Date.now());
    const ahead = Date.now() + SKEW_MS;
    await store.enqueue(request('blocker', 'low', { requestedAt: ahead, deadline: ahead + WAIT_MS }), ahead, LEASE_TTL, 10);
    const before = await redisNow();
    const { queued } = await store.enqueue(request('waiter', 'critical', { requestedAt: ahead, deadline: ahead + WAIT_MS }), ahead, LEASE_TTL, 10);
    const after = await redisNow();
    expect(queued.queuedAt).toBeGreaterThanOrEqual(before);
    expect(queued.queuedAt).toBeLessThanOrEqual(after);

    await store.transition('container-1', 'Starting', 'Available', Date.now());
    const [grant] = await store.dispatch(Date.now(), LEASE_TTL);
    expect(grant!.lease).toMatchObject({ requestId: 'waiter', seq: queued.seq, queuedAt: queued.queuedAt });
    expect(grant!.lease.grantedAt).toBeGreaterThanOrEqual(queued.queuedAt!);

    await store.release(grant!.lease.leaseId, grant!.lease.token, Date.now());
    const ended = JSON.parse((await testRedis.admin.get(new RedisKeys(prefix).ended(grant!.lease.leaseId)))!) as { lease: Record<string, unknown> };
    expect(ended.lease).toMatchObject({ seq: queued.seq, queuedAt: queued.queuedAt });
  });
});
