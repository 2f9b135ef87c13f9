import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ContainerSpec } from '../../src/config/pool-config.js';
import { RedisHostRegistry } from '../../src/store/redis-host-registry.js';
import { RedisPoolStore } from '../../src/store/redis-store.js';
import { request } from '../contract/pool-store.contract.js';
import { deletePrefix, uniquePrefix } from '../support/redis-server.js';
import { useTestRedis } from '../support/use-test-redis.js';

const T0 = 1_800_000_000_000;
const LEASE_TTL = 60_000;
/** Long enough that a live agent's lease never runs out during a test, even with both cores busy. */
const LIVE_HOST_TTL = 60_000;
/** Budget for a message or a key expiry to arrive: generous so it holds at load 12; only a broken test waits it out. */
const ARRIVAL_BUDGET_MS = 15_000;

const testRedis = useTestRedis();

function member(hostId: string, i: number): ContainerSpec {
  return { id: `${hostId}-mcp-${i}`, name: `cinnamon-qa-mcp-${i}`, port: 4000 + i, memoryMB: 512, cpuPercent: 80 };
}

async function until<T>(what: string, read: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = performance.now() + ARRIVAL_BUDGET_MS;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`${what}: nothing after ${ARRIVAL_BUDGET_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('revocation notices: the lease ids a host removal or a failover revoked, published for their holders', () => {
  let prefix: string;
  const opened: RedisPoolStore[] = [];

  function participant() {
    const store = new RedisPoolStore({ redis: testRedis.server.url, keyPrefix: prefix });
    opened.push(store);
    return { store, registry: new RedisHostRegistry(store) };
  }

  /** A shard listening for revocations; resolves once subscribed. */
  async function listener() {
    const { store } = participant();
    const heard: string[][] = [];
    await store.subscribeRevocations((ids) => heard.push(ids));
    return { store, heard };
  }

  async function hostWithLease(hostId: string, holder: string) {
    const { registry, store } = participant();
    const { epoch } = await registry.claim({ hostId, address: '10.77.0.1', controlUrl: 'http://10.77.0.1:7070', runtime: 'process', ttlMs: LIVE_HOST_TTL });
    const scoped = registry.scopedStore(hostId, epoch);
    await scoped.registerContainers([member(hostId, 1)], T0);
    await scoped.transition(member(hostId, 1).id, 'Starting', 'Available', T0);
    const { grants } = await store.enqueue(request(holder), T0, LEASE_TTL, 10);
    return { registry, store, epoch, lease: grants[0]!.lease };
  }

  beforeEach(() => {
    prefix = uniquePrefix('revocations');
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await deletePrefix(testRedis.admin, prefix);
  });

  it('a reaped host (host-lost): its holders\' lease ids, once', async () => {
    const shard = await listener();
    const { registry, store, epoch, lease } = await hostWithLease('alpha', 'holder');
    await registry.renew('alpha', epoch, 150);
    await until('host lease expiry', async () => ((await testRedis.admin.exists(store.keys.hostLease('alpha'))) === 0 ? true : undefined));
    const reaped = await participant().registry.reapExpired();
    expect(reaped.revoked.map((l) => l.leaseId)).toEqual([lease.leaseId]);
    expect(await until('the notice', () => shard.heard[0])).toEqual([lease.leaseId]);
    expect(await shard.store.getEndedLease(lease.leaseId)).toMatchObject({ reason: 'revoked', error: expect.stringMatching(/^host-lost: host alpha /) });
    // A second reap finds nothing and says nothing.
    expect((await participant().registry.reapExpired()).revoked).toEqual([]);
    await testRedis.admin.publish(store.keys.revocationsChannel, 'marker');
    await until('the marker', () => (shard.heard.length > 1 ? true : undefined));
    expect(shard.heard).toEqual([[lease.leaseId], ['marker']]);
  });

  it('a restarted agent taking its host over, and a leaving agent, publish what they revoked', async () => {
    const shard = await listener();
    const first = await hostWithLease('alpha', 'a-holder');
    await first.registry.renew('alpha', first.epoch, 150);
    await until('host lease expiry', async () => ((await testRedis.admin.exists(first.store.keys.hostLease('alpha'))) === 0 ? true : undefined));
    const second = await hostWithLease('alpha', 'a-holder-2');
    expect(second.epoch).toBe(first.epoch + 1);
    expect(await until('the takeover notice', () => shard.heard[0])).toEqual([first.lease.leaseId]);

    await second.registry.leave('alpha', second.epoch, 'host-draining: agent alpha stopped');
    expect(await until('the leave notice', () => shard.heard[1])).toEqual([second.lease.leaseId]);
  });

  it('a Redis failover (a promoted master new to the pool) publishes every lease it revoked', async () => {
    const shard = await listener();
    const { store, lease } = await hostWithLease('alpha', 'holder');
    expect(await store.poolEpoch()).toBe(0);
    // As in redis-failover.test.ts: REPLICAOF then REPLICAOF NO ONE makes this server a promoted replica, and
    // another master ran the pool before it.
    const admin = testRedis.admin;
    await admin.call('REPLICAOF', '127.0.0.1', '1');
    await admin.call('REPLICAOF', 'NO', 'ONE');
    await admin.set(store.keys.poolEpochMaster, 'old-master');
    expect(await store.poolEpoch()).toBe(1);
    expect(await until('the failover notice', () => shard.heard[0])).toEqual([lease.leaseId]);
    expect(await shard.store.getEndedLease(lease.leaseId)).toMatchObject({ reason: 'revoked', error: expect.stringMatching(/^failover: /) });
  });
});
