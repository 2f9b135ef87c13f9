import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { pingRedis } from '../../src/cli/redis-ping.js';
import { readRedisTime } from '../../src/coordinator/redis-time.js';
import { PoolError } from '../../src/errors/pool-error.js';
import type { Lease } from '../../src/store/pool-store.js';
import { REDIS_ACL_COMMANDS, redisAclRule, type RedisAclCommand } from '../../src/store/redis-acl.js';
import { RedisHostRegistry } from '../../src/store/redis-host-registry.js';
import { RedisPoolStore } from '../../src/store/redis-store.js';
import { describePoolStoreContract, request, spec, type StoreHandle } from '../contract/pool-store.contract.js';
import { startSentinelRedis, type SentinelRedis } from '../support/redis-sentinel.js';
import { deletePrefix, uniquePrefix } from '../support/redis-server.js';
import { useTestRedis } from '../support/use-test-redis.js';

/**
 * The pool's least-privilege Redis user (src/store/redis-acl.ts) on a real redis-server: the store contract, the
 * host registry, notices, Redis' clock and the failover check all work through a user with exactly that rule; a
 * user lacking any one listed command fails with the refusal named (so the list holds nothing unused); a user of
 * another prefix reads none of this pool's keys or channels.
 */
const testRedis = useTestRedis();

const LEASE_TTL = 60_000;
/** A live host's lease: never runs out during a test, even with both cores busy. */
const LIVE_HOST_TTL = 60_000;
/** A host that must die: renewed to this, then waited for until Redis expired its lease key. */
const DYING_HOST_TTL = 150;
/** Bounds a hang only (a notice or a key expiry that never comes); holds at load 12. */
const WAIT_BUDGET_MS = 15_000;
const PASSWORD = 'acl-test-password';

const users: string[] = [];

afterEach(async () => {
  for (const user of users.splice(0)) await testRedis.admin.call('ACL', 'DELUSER', user);
});

/** Creates a Redis user with exactly `rule` (the pool's rule, or it minus a command); returns its URL. */
async function userWith(rule: string): Promise<{ user: string; url: string }> {
  const user = `cq-acl-${randomUUID().slice(0, 8)}`;
  users.push(user);
  await testRedis.admin.call('ACL', 'SETUSER', user, 'on', `>${PASSWORD}`, ...rule.split(' '));
  const url = new URL(testRedis.server.url);
  url.username = user;
  url.password = PASSWORD;
  return { user, url: url.toString() };
}

interface AclLogEntry {
  reason: string;
  context: string;
  object: string;
  username: string;
}

/**
 * What Redis refused `user` (ACL LOG, the server's own record). CLIENT SETINFO is left out: ioredis sends it on
 * every connection and ignores its refusal (Redis 7.2+; 7.0 does not know the subcommand).
 */
async function refusedTo(user: string): Promise<AclLogEntry[]> {
  const raw = (await testRedis.admin.call('ACL', 'LOG', '128')) as unknown[][];
  return raw
    .map((flat) => {
      const entry: Record<string, unknown> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) entry[String(flat[i])] = flat[i + 1];
      return entry as unknown as AclLogEntry;
    })
    .filter((e) => e.username === user && e.object !== 'client|setinfo');
}

async function until(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = performance.now() + WAIT_BUDGET_MS;
  while (!(await done())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${WAIT_BUDGET_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function claimInput(hostId: string, ttlMs = LIVE_HOST_TTL) {
  return { hostId, address: '10.77.0.1', controlUrl: 'http://10.77.0.1:7070', runtime: 'process' as const, ttlMs };
}

/**
 * What a shard, an agent and the CLI do to a shared pool, through `url`, on Redis' clock: every command of
 * REDIS_ACL_COMMANDS is sent at least once. Returns the first error (undefined when all went through).
 * `reapForReal` also lets a host die and reaps it (waits for Redis to expire its lease).
 */
async function sharedPoolWork(url: string, prefix: string, reapForReal: boolean): Promise<unknown> {
  const store = new RedisPoolStore({ redis: url, keyPrefix: prefix, serverTime: true });
  const registry = new RedisHostRegistry(store);
  try {
    const ping = await pingRedis(url);
    if (!ping.ok) throw new Error(`doctor's ping: ${ping.message}`);
    await readRedisTime(url);
    expect(await store.poolEpoch()).toBe(0);
    const granted: string[] = [];
    const recycled: string[] = [];
    const stopGrants = await store.subscribeGrants((ids) => granted.push(...ids));
    const stopRecycle = await store.subscribeRecycle((ids) => recycled.push(...ids));

    const { epoch } = await registry.claim(claimInput('alpha'));
    const taken = await registry.claim(claimInput('alpha')).catch((e: unknown) => e);
    if (!(taken instanceof PoolError) || taken.code !== 'HOST_TAKEN') throw taken;
    await registry.renew('alpha', epoch, LIVE_HOST_TTL);
    const specs = [1, 2].map((i) => ({ id: `alpha-mcp-${i}`, name: `cinnamon-qa-mcp-${i}`, port: 4000 + i, memoryMB: 512, cpuPercent: 80 }));
    await registry.registerMembers('alpha', epoch, specs);
    const scoped = registry.scopedStore('alpha', epoch);
    for (const s of specs) await scoped.transition(s.id, 'Starting', 'Available', Date.now());
    await registry.signingKeys(() => ({ publicKey: 'pub', privateKey: 'priv' }));

    // Two holders, a third waits; a release hands its member to the waiter, announced on the grants channel.
    const now = Date.now();
    const held: Lease[] = [];
    for (const id of ['r1', 'r2']) {
      const { grants } = await store.enqueue(request(id, 'normal', { requestedAt: now, deadline: now + LEASE_TTL }), now, LEASE_TTL, 10);
      held.push(grants[0]!.lease);
    }
    expect((await store.enqueue(request('r3', 'high', { requestedAt: now, deadline: now + LEASE_TTL }), now, LEASE_TTL, 10)).grants).toEqual([]);
    await store.enqueue(request('r4', 'low', { requestedAt: now, deadline: now + LEASE_TTL }), now, LEASE_TTL, 10);
    await store.cancel('r4');
    await store.renew(held[0]!.leaseId, held[0]!.token, Date.now(), LEASE_TTL);
    await store.release(held[0]!.leaseId, held[0]!.token, Date.now());
    await until('the recycle notice of the released member', () => recycled.includes(held[0]!.containerId));
    // The agent's cleanup is done: the member is Available again and the next dispatch pass hands it to r3.
    await scoped.transition(held[0]!.containerId, 'Cleaning', 'Available', Date.now());
    expect((await store.dispatch(Date.now(), LEASE_TTL)).map((g) => g.request.requestId)).toEqual(['r3']);
    expect(await store.grantsFor(['r3'])).toHaveLength(1);
    await until('the grant notice of r3', () => granted.includes('r3'));

    await store.reclaimExpired(Date.now());
    expect(await store.listLeases()).toHaveLength(2); // r2's and r3's
    await store.getLease(held[1]!.leaseId);
    await store.listContainers();
    await store.listQueue();
    await store.appendExecution('test-a', 1200, 10);
    expect(await store.getExecutions('test-a')).toEqual([1200]);
    await store.claimExtension('run-x', 2);
    await store.incrementCounter('failedAllocations');
    await store.getCounters();
    await store.appendAudit([{ at: Date.now(), type: 'allocated', actor: 'run-r2', containerId: held[1]!.containerId, outcome: 'ok' }]);
    await store.listAudit();
    await stopGrants(); // the recycle subscription stays: UNSUBSCRIBE of the grants channel alone
    await stopRecycle();

    if (reapForReal) {
      const beta = await registry.claim(claimInput('beta'));
      await registry.registerMembers('beta', beta.epoch, [{ id: 'beta-mcp-1', name: 'cinnamon-qa-mcp-1', port: 4101, memoryMB: 512, cpuPercent: 80 }]);
      await registry.renew('beta', beta.epoch, DYING_HOST_TTL);
      await until("beta's host lease expiry", async () => (await testRedis.admin.exists(store.keys.hostLease('beta'))) === 0);
      const reaped = await registry.reapExpired();
      expect(reaped).toMatchObject({ hosts: ['beta'], removedMembers: ['beta-mcp-1'] });
    } else {
      await registry.reapExpired();
    }
    await registry.setDraining('alpha', epoch);
    await registry.leave('alpha', epoch, 'test over');
    expect(await registry.listHosts()).toEqual([]);
    return undefined;
  } catch (error) {
    return error;
  } finally {
    await store.close();
    await deletePrefix(testRedis.admin, prefix);
  }
}

describePoolStoreContract('redis, through a user with only the pool ACL', async (): Promise<StoreHandle> => {
  const prefix = uniquePrefix('acl-contract');
  const { user, url } = await userWith(redisAclRule(prefix));
  users.pop(); // deleted by this handle's cleanup, after its refusal check
  const store = new RedisPoolStore({ redis: url, keyPrefix: prefix });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await deletePrefix(testRedis.admin, prefix);
      const refused = await refusedTo(user);
      await testRedis.admin.call('ACL', 'DELUSER', user);
      expect(refused).toEqual([]);
    },
  };
});

describe('the pool ACL (src/store/redis-acl.ts) on real Redis', () => {
  it('a user with exactly the rule runs a shared pool: host claim/renew/register/drain/leave/reap, leases, notices, TIME, INFO', async () => {
    const prefix = uniquePrefix('acl');
    const { user, url } = await userWith(redisAclRule(prefix));
    expect(await sharedPoolWork(url, prefix, true)).toBeUndefined();
    expect(await refusedTo(user)).toEqual([]);
  });

  it('the list is tight: without any one command the work is refused that command, surfaced as STORE_PERMISSION_DENIED', async () => {
    const prefix = uniquePrefix('acl-minus');
    // UNSUBSCRIBE's refusal is ignored by design: the listener is gone already and closing the subscriber ends it.
    const swallowed = new Set<RedisAclCommand>(['unsubscribe']);
    // The doctor's PING and a shard's reading of TIME run on one-shot connections: their NOPERM reaches the
    // caller as Redis' own error (the doctor prints it; the shared start names Redis and fails).
    const oneShot = new Set<RedisAclCommand>(['ping', 'time']);
    const outcomes: string[] = [];
    for (const command of Object.keys(REDIS_ACL_COMMANDS) as RedisAclCommand[]) {
      const rule = redisAclRule(prefix).replace(` +${command} `, ' ');
      expect(rule).not.toContain(` +${command} `);
      const { user, url } = await userWith(rule);
      const error = await sharedPoolWork(url, prefix, false);
      const refused = (await refusedTo(user)).map((e) => e.object);
      let outcome: string;
      if (swallowed.has(command)) outcome = error === undefined ? 'swallowed' : `failed: ${String(error)}`;
      else if (oneShot.has(command)) outcome = error instanceof Error && error.message.includes('NOPERM') ? 'NOPERM' : `other: ${String(error)}`;
      else if (error instanceof PoolError && error.code === 'STORE_PERMISSION_DENIED') {
        // Redis names the command for a direct call; for a call inside a script (7.0) its ACL LOG does.
        outcome = error.data['command'] === undefined || error.data['command'] === command ? 'STORE_PERMISSION_DENIED' : `named ${String(error.data['command'])}`;
        expect(error.message).toContain(`cinnamon-pool acl --prefix ${prefix}`);
      } else outcome = `other: ${String(error)}`;
      outcomes.push(`${command}: ${outcome}; refused ${refused.includes(command) ? command : refused.join(',') || 'nothing'}`);
    }
    const expected = Object.keys(REDIS_ACL_COMMANDS).map((command) => {
      const c = command as RedisAclCommand;
      return `${c}: ${swallowed.has(c) ? 'swallowed' : oneShot.has(c) ? 'NOPERM' : 'STORE_PERMISSION_DENIED'}; refused ${c}`;
    });
    expect(outcomes).toEqual(expected);
  });

  it("a user of another prefix reads none of this pool's keys and hears none of its channels", async () => {
    const prefix = uniquePrefix('acl-mine');
    const other = `${prefix}2`; // shares the first characters: the rule's ':' must keep it out
    const mine = await userWith(redisAclRule(prefix));
    const theirs = await userWith(redisAclRule(other));
    const store = new RedisPoolStore({ redis: mine.url, keyPrefix: prefix });
    const intruder = new RedisPoolStore({ redis: theirs.url, keyPrefix: prefix });
    const raw = new Redis(theirs.url, { maxRetriesPerRequest: 1 });
    try {
      await store.registerContainers([{ id: 'c1', name: 'n1', port: 4001, memoryMB: 512, cpuPercent: 80 }], Date.now());
      expect(await store.listContainers()).toHaveLength(1);

      const denied = await intruder.listContainers().catch((e: unknown) => e);
      expect(denied).toBeInstanceOf(PoolError);
      expect((denied as PoolError).code).toBe('STORE_PERMISSION_DENIED');
      expect((denied as PoolError).message).toContain(`a key outside the prefix '${prefix}:*'`);
      const heard = await intruder.subscribeGrants(() => {}).catch((e: unknown) => e);
      expect((heard as PoolError).code).toBe('STORE_PERMISSION_DENIED');
      expect((heard as PoolError).message).toContain('a channel outside');

      await expect(raw.hgetall(store.keys.containers)).rejects.toThrow(/NOPERM/);
      await expect(raw.keys('*')).rejects.toThrow(/NOPERM/);
      await expect(raw.call('SCAN', '0')).rejects.toThrow(/NOPERM/);
      await expect(raw.call('EVAL', `return redis.call('HGETALL', '${store.keys.containers}')`, '0')).rejects.toThrow(/can't access/);
      expect(await raw.hgetall(`${other}:containers`)).toEqual({});
    } finally {
      raw.disconnect();
      await intruder.close();
      await store.close();
      await deletePrefix(testRedis.admin, prefix);
    }
  });
});

describe('the pool ACL through Sentinel', () => {
  let cluster: SentinelRedis | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('a user created on the master and the replica keeps serving the pool across a failover (redis-sentinel:// URL)', async () => {
    cluster = await startSentinelRedis();
    const prefix = uniquePrefix('acl-sentinel');
    const user = `cq-acl-${randomUUID().slice(0, 8)}`;
    // ACL SETUSER is not replicated: the promoted replica must know the user too.
    for (const port of [cluster.masterPort, cluster.replicaPort]) {
      const admin = cluster.connectTo(port);
      await admin.call('ACL', 'SETUSER', user, 'on', `>${PASSWORD}`, ...redisAclRule(prefix).split(' '));
      admin.disconnect();
    }
    const url = cluster.url.replace('redis-sentinel://', `redis-sentinel://${user}:${PASSWORD}@`);
    const store = new RedisPoolStore({ redis: url, keyPrefix: prefix });
    try {
      await store.registerContainers([spec(1)], Date.now());
      await store.transition('container-1', 'Starting', 'Available', Date.now());
      expect(await store.poolEpoch()).toBe(0);
      const now = Date.now();
      const { grants } = await store.enqueue(request('before', 'normal', { requestedAt: now, deadline: now + LEASE_TTL }), now, LEASE_TTL, 10);
      const old = grants[0]!.lease;
      // The admin's own write acknowledged by the replica: everything the user wrote before it is there too.
      const master = cluster.connectTo(cluster.masterPort);
      await master.set(`${prefix}:replicated`, '1');
      expect(await master.wait(1, 10_000)).toBe(1);
      master.disconnect();

      const promoted = await cluster.waitForPromotion(await cluster.killMaster());
      const deadline = performance.now() + 60_000; // bounds a hang only: the promotion takes ≈ 2 s when quiet
      let epoch = 0;
      while (epoch < 1) {
        epoch = await store.poolEpoch().catch((e: unknown) => {
          if (!(e instanceof PoolError) || e.code !== 'STORE_UNAVAILABLE' || performance.now() > deadline) throw e;
          return 0;
        });
        if (epoch < 1) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(epoch).toBe(1);
      expect((await store.getEndedLease(old.leaseId))?.reason).toBe('revoked');
      await store.transition('container-1', 'Cleaning', 'Available', Date.now());
      const later = Date.now();
      expect((await store.enqueue(request('after', 'normal', { requestedAt: later, deadline: later + LEASE_TTL }), later, LEASE_TTL, 10)).grants).toHaveLength(1);

      const admin = cluster.connectTo(promoted);
      const log = (await admin.call('ACL', 'LOG', '128')) as unknown[][];
      admin.disconnect();
      const refused = log.filter((flat) => flat.includes(user) && !flat.includes('client|setinfo'));
      expect(refused).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
