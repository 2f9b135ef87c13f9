import { afterEach, describe, expect, it } from 'vitest';
import { PoolError } from '../../src/errors/pool-error.js';
import type { Lease } from '../../src/store/pool-store.js';
import { MAX_POOL_EPOCH, TOKENS_PER_EPOCH, type PoolFailover } from '../../src/store/redis-failover.js';
import { RedisKeys } from '../../src/store/redis-keys.js';
import { RedisPoolStore } from '../../src/store/redis-store.js';
import { request, spec } from '../contract/pool-store.contract.js';
import { startSentinelRedis, type SentinelRedis } from '../support/redis-sentinel.js';
import { startTestRedis, uniquePrefix, type TestRedis } from '../support/redis-server.js';

const TTL = 60_000;
/** Bounds a hang only: the store reconnects through the sentinel after the promotion (≈ 2 s on a quiet machine). */
const RECONNECT_BUDGET_MS = 60_000;

let cluster: SentinelRedis | undefined;
let plain: TestRedis | undefined;
const stores: RedisPoolStore[] = [];

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close().catch(() => {});
  await cluster?.stop();
  await plain?.stop();
  cluster = undefined;
  plain = undefined;
});

function openStore(url: string, keyPrefix: string): RedisPoolStore {
  const store = new RedisPoolStore({ redis: url, keyPrefix });
  stores.push(store);
  return store;
}

async function grant(store: RedisPoolStore, id: string): Promise<Lease> {
  const now = Date.now();
  const { grants } = await store.enqueue(request(id, 'normal', { requestedAt: now, deadline: now + TTL }), now, TTL, 10);
  expect(grants.map((g) => g.request.requestId)).toEqual([id]);
  return grants[0]!.lease;
}

/** The epoch once the store is back on a master: calls fail STORE_UNAVAILABLE while it reconnects. */
async function epochAfterReconnect(store: RedisPoolStore, atLeast: number): Promise<number> {
  const deadline = performance.now() + RECONNECT_BUDGET_MS;
  for (;;) {
    try {
      const epoch = await store.poolEpoch();
      if (epoch >= atLeast) return epoch;
    } catch (error) {
      if (!(error instanceof PoolError) || error.code !== 'STORE_UNAVAILABLE' || performance.now() > deadline) throw error;
    }
    if (performance.now() > deadline) throw new Error(`pool epoch still below ${atLeast} after the failover`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('Redis failover under Sentinel (issue 11)', () => {
  it('a new master bumps the pool epoch once, revokes the old leases and grants tokens above every earlier one', async () => {
    cluster = await startSentinelRedis();
    const prefix = uniquePrefix('failover');
    const keys = new RedisKeys(prefix);
    const store = openStore(cluster.url, prefix);
    const failovers: PoolFailover[] = [];
    store.onFailover((f) => failovers.push(f));

    const now = Date.now();
    await store.registerContainers([spec(1), spec(2)], now);
    for (const id of ['container-1', 'container-2']) await store.transition(id, 'Starting', 'Available', now);
    expect(await store.poolEpoch()).toBe(0);
    const old = await grant(store, 'before');
    const tokens = [old.token];

    // Everything so far reaches the replica; then the replica "loses" the last grant's counter as an
    // asynchronous replica can: its token counter goes back below the granted token. Without the epoch's raise
    // the next grant on the new master would reuse token t1 while t1's holder still holds it.
    expect(await store.scriptClient.redis.wait(1, 10_000)).toBe(1);
    const replica = cluster.connectTo(cluster.replicaPort);
    await replica.config('SET', 'replica-read-only', 'no');
    await replica.set(keys.tokenSeq, String(old.token - 1));

    const oldMaster = await cluster.killMaster();
    const newMaster = await cluster.waitForPromotion(oldMaster);
    expect(newMaster).toBe(cluster.replicaPort);
    expect(await epochAfterReconnect(store, 1)).toBe(1);

    // The lease of the old epoch ended as revoked, with the reason; its container went to Cleaning.
    const ended = await store.getEndedLease(old.leaseId);
    expect(ended?.reason).toBe('revoked');
    expect(ended?.error).toBe('failover: Redis master changed (pool epoch 1); leases granted before it end');
    await expect(store.renew(old.leaseId, old.token, Date.now(), TTL)).rejects.toMatchObject({ code: 'LEASE_REVOKED', message: expect.stringContaining('failover') });
    expect((await store.getContainer(old.containerId)).state).toBe('Cleaning');
    expect(await store.listLeases()).toEqual([]);
    expect(failovers).toHaveLength(1);
    expect(failovers[0]).toMatchObject({ epoch: 1, master: expect.any(String) });
    expect(failovers[0]!.revoked.map((l) => l.leaseId)).toEqual([old.leaseId]);

    // The fence an agent sets when it recycles (nextToken) is above every token of the old epoch.
    const fence = await store.nextToken();
    expect(fence).toBeGreaterThan(TOKENS_PER_EPOCH);
    expect(fence).toBeGreaterThan(old.token);

    // A second participant on the same prefix sees the same epoch: one bump per master, not one per store.
    const late = openStore(cluster.url, prefix);
    expect(await late.poolEpoch()).toBe(1);
    expect(await store.poolEpoch()).toBe(1);

    await store.transition(old.containerId, 'Cleaning', 'Available', Date.now());
    for (const id of ['after-1', 'after-2']) tokens.push((await grant(id === 'after-1' ? store : late, id)).token);
    for (const token of tokens.slice(1)) {
      expect(token).toBeGreaterThan(old.token);
      expect(token).toBeGreaterThanOrEqual(1 * TOKENS_PER_EPOCH);
      expect(Number.isSafeInteger(token)).toBe(true);
    }
    expect(new Set(tokens).size).toBe(tokens.length);
    // Tokens survive the round trip through the scripts' JSON exactly.
    expect((await store.listLeases()).map((l) => l.token).sort()).toEqual(tokens.slice(1).sort());
  });

  // The pool-epoch script's rules on one plain Redis: the stored master id is set by hand to stand for "another
  // master was here before" (what a failover leaves behind).
  it('bumps once per new master, raises the counter only when lower, never reuses an epoch the master lost, refuses past the cap', async () => {
    plain = await startTestRedis();
    const admin = plain.connect();
    try {
      const prefix = uniquePrefix('pool-epoch');
      const keys = new RedisKeys(prefix);
      const store = openStore(plain.url, prefix);
      const failovers: PoolFailover[] = [];
      store.onFailover((f) => failovers.push(f));

      // A new pool: the master is recorded, nothing bumped.
      expect(await store.poolEpoch()).toBe(0);
      const runId = /run_id:(\w+)/.exec(await admin.info('server'))![1];
      expect(await admin.get(keys.poolEpochMaster)).toBe(runId);
      expect(await store.poolEpoch()).toBe(0);

      // The same master restarted from its own disk (a new run id, never a replica, the pool's keys kept): not a
      // failover. Its new run id is recorded and nothing is revoked (redis-faults.test.ts restarts one for real).
      await admin.set(keys.poolEpochMaster, 'run-before-restart');
      expect(await store.poolEpoch()).toBe(0);
      expect(await admin.get(keys.poolEpochMaster)).toBe(runId);
      expect(failovers).toEqual([]);

      // A failover: this server becomes a promoted replica (REPLICAOF then REPLICAOF NO ONE sets master_replid2, as
      // Sentinel's promotion does), and another master ran the pool before it. The counter, already above the new
      // epoch's floor, stays where it is.
      await admin.call('REPLICAOF', '127.0.0.1', '1');
      await admin.call('REPLICAOF', 'NO', 'ONE');
      expect(await admin.info('replication')).toMatch(/^master_replid2:(?!0+\s*$)\w+/m);
      const above = 5 * TOKENS_PER_EPOCH + 7;
      await admin.mset(keys.poolEpochMaster, 'old-master', keys.tokenSeq, String(above));
      expect(await store.poolEpoch()).toBe(1);
      expect(await admin.get(keys.tokenSeq)).toBe(String(above));
      expect(failovers.map((f) => [f.epoch, f.previousMaster, f.master, f.revoked.length])).toEqual([[1, 'old-master', runId, 0]]);

      // A new master that lost the pool's keys altogether: this store saw epoch 1, so the next is 2, not 0 or 1.
      await admin.del(keys.poolEpoch, keys.poolEpochMaster, keys.tokenSeq);
      expect(await store.poolEpoch()).toBe(2);
      expect(await admin.get(keys.tokenSeq)).toBe(String(2 * TOKENS_PER_EPOCH));
      expect(await store.nextToken()).toBe(2 * TOKENS_PER_EPOCH + 1);
      // A participant that never saw a master of this pool and finds its keys gone starts a new pool instead.
      const fresh = openStore(plain.url, uniquePrefix('pool-epoch'));
      expect(await fresh.poolEpoch()).toBe(0);

      // The cap: tokens must stay exact in the scripts' JSON. Refused with the fix, nothing written.
      await admin.mset(keys.poolEpoch, String(MAX_POOL_EPOCH), keys.poolEpochMaster, 'x');
      await expect(store.poolEpoch()).rejects.toMatchObject({ code: 'CORRUPT_STATE', message: expect.stringContaining('use a new prefix') });
      expect(await admin.mget(keys.poolEpoch, keys.poolEpochMaster)).toEqual([String(MAX_POOL_EPOCH), 'x']);
      expect(failovers).toHaveLength(2);
    } finally {
      admin.disconnect();
    }
  });
});
