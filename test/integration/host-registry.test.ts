import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerSpec } from '../../src/config/pool-config.js';
import { PoolError } from '../../src/errors/pool-error.js';
import { RedisHostRegistry } from '../../src/store/redis-host-registry.js';
import { RedisPoolStore } from '../../src/store/redis-store.js';
import { request } from '../contract/pool-store.contract.js';
import { deletePrefix, uniquePrefix } from '../support/redis-server.js';
import { useTestRedis } from '../support/use-test-redis.js';

const T0 = 1_800_000_000_000;
const LEASE_TTL = 60_000;
/** Long enough that a live agent's lease never runs out during a test, even with both cores busy. */
const LIVE_HOST_TTL = 60_000;
/**
 * Short: a host that must die is set up under LIVE_HOST_TTL, then renewed to this and waited for (for real)
 * until Redis expired its lease key, so a slow machine never loses a host before the test is ready.
 */
const DYING_HOST_TTL = 150;
/** Budget for Redis to expire a 150 ms key: generous so it holds at load 12; the test only waits this long if broken. */
const EXPIRY_BUDGET_MS = 15_000;

const testRedis = useTestRedis();

function member(hostId: string, i: number): ContainerSpec {
  return { id: `${hostId}-mcp-${i}`, name: `cinnamon-qa-mcp-${i}`, port: 4000 + i, memoryMB: 512, cpuPercent: 80 };
}

function claimInput(hostId: string, ttlMs = LIVE_HOST_TTL) {
  return { hostId, address: `10.77.0.${hostId.length}`, controlUrl: `http://10.77.0.${hostId.length}:7070`, runtime: 'process' as const, ttlMs };
}

async function refusal(promise: Promise<unknown>): Promise<PoolError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PoolError);
  return error as PoolError;
}

describe('RedisHostRegistry on real Redis', () => {
  let prefix: string;
  const opened: RedisPoolStore[] = [];

  function participant(): { store: RedisPoolStore; registry: RedisHostRegistry } {
    const store = new RedisPoolStore({ redis: testRedis.server.url, keyPrefix: prefix });
    opened.push(store);
    return { store, registry: new RedisHostRegistry(store) };
  }

  /** Waits (polling, no fixed sleep) until Redis has expired the host lease key. */
  async function hostLeaseGone(store: RedisPoolStore, hostId: string): Promise<void> {
    const deadline = performance.now() + EXPIRY_BUDGET_MS;
    while ((await testRedis.admin.exists(store.keys.hostLease(hostId))) === 1) {
      if (performance.now() > deadline) throw new Error(`host lease of ${hostId} still held after ${EXPIRY_BUDGET_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Shortens the host lease to DYING_HOST_TTL and waits until Redis expired it. */
  async function letDie(registry: RedisHostRegistry, store: RedisPoolStore, hostId: string, epoch: number): Promise<void> {
    await registry.renew(hostId, epoch, DYING_HOST_TTL);
    await hostLeaseGone(store, hostId);
  }

  /** A live host with `n` members, all Available (through its scoped store). */
  async function hostWithMembers(registry: RedisHostRegistry, hostId: string, n: number) {
    const { epoch } = await registry.claim(claimInput(hostId));
    const scoped = registry.scopedStore(hostId, epoch);
    const specs = Array.from({ length: n }, (_, i) => member(hostId, i + 1));
    await scoped.registerContainers(specs, T0);
    for (const s of specs) await scoped.transition(s.id, 'Starting', 'Available', T0);
    return { epoch, scoped, specs };
  }

  beforeAll(() => {
    prefix = uniquePrefix('hosts');
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await deletePrefix(testRedis.admin, prefix);
    prefix = uniquePrefix('hosts');
  });

  it('claims a host with epoch 1; a second claim while live is HOST_TAKEN; renew extends; after expiry renew is STALE_EPOCH', async () => {
    const { registry } = participant();
    const other = participant().registry;
    const claim = await registry.claim(claimInput('alpha'));
    expect(claim).toEqual({ epoch: 1, reaped: { hosts: [], revoked: [], removedMembers: [] } });
    const taken = await refusal(other.claim(claimInput('alpha')));
    expect(taken.code).toBe('HOST_TAKEN');
    expect(taken.message).toContain('alpha');

    const [listed] = await registry.listHosts();
    expect(listed).toMatchObject({ hostId: 'alpha', epoch: 1, live: true, draining: false, members: [], runtime: 'process' });
    const expiresAt = await registry.renew('alpha', 1, LIVE_HOST_TTL);
    expect(expiresAt).toBeGreaterThanOrEqual(listed!.claimedAt + LIVE_HOST_TTL);
    expect((await registry.listHosts())[0]!.expiresAt).toBe(expiresAt);

    await letDie(registry, participant().store, 'alpha', 1);
    const stale = await refusal(registry.renew('alpha', 1, LIVE_HOST_TTL));
    expect(stale.code).toBe('STALE_EPOCH');
    expect(stale.data).toMatchObject({ hostId: 'alpha', epoch: 1, heldEpoch: null });
    expect(await registry.listHosts()).toMatchObject([{ hostId: 'alpha', live: false, expiresAt: 0 }]);
  });

  it('a takeover with epoch + 1 reaps the old members and revokes their leases with the host-lost reason', async () => {
    const shard = participant().store;
    const { registry } = participant();
    const { epoch, specs } = await hostWithMembers(registry, 'alpha', 2);
    const { grants } = await shard.enqueue(request('holder'), T0, LEASE_TTL, 10);
    const lease = grants[0]!.lease;
    expect(lease.containerId).toBe(specs[0]!.id);
    // The grant carries where the member is (from its record, in the same script): a shard reads nothing more.
    expect(lease.member).toEqual({ hostId: 'alpha', name: specs[0]!.name, address: claimInput('alpha').address, port: specs[0]!.port });
    expect(await shard.getLease(lease.leaseId)).toEqual(lease);

    await letDie(registry, shard, 'alpha', epoch);
    const claim = await participant().registry.claim(claimInput('alpha'));
    expect(claim.epoch).toBe(2);
    expect(claim.reaped.hosts).toEqual(['alpha']);
    expect(claim.reaped.removedMembers).toEqual(specs.map((s) => s.id));
    expect(claim.reaped.revoked).toEqual([lease]);

    const ended = await shard.getEndedLease(lease.leaseId);
    expect(ended).toMatchObject({ reason: 'revoked', error: 'host-lost: alpha was taken over by epoch 2' });
    const late = await refusal(shard.release(lease.leaseId, lease.token, T0 + 1));
    expect(late.code).toBe('LEASE_REVOKED');
    expect(late.message).toContain('host-lost: alpha was taken over by epoch 2');
    expect(await shard.listContainers()).toEqual([]);
    expect(await shard.listLeases()).toEqual([]);
    expect((await registry.listHosts())[0]).toMatchObject({ epoch: 2, members: [], live: true });
  });

  it('the scoped store of a replaced epoch is refused STALE_EPOCH and changes nothing', async () => {
    const { registry, store } = participant();
    const old = await hostWithMembers(registry, 'alpha', 1);
    await letDie(registry, store, 'alpha', old.epoch);
    const current = await hostWithMembers(participant().registry, 'alpha', 1);
    expect(current.epoch).toBe(old.epoch + 1);
    const id = current.specs[0]!.id;
    const before = await store.getContainer(id);

    const attempts: Array<[string, Promise<unknown>]> = [
      ['transition', old.scoped.transition(id, 'Available', 'Cleaning', T0 + 1)],
      ['revoke', old.scoped.revoke(id, T0 + 1, 'stale agent')],
      ['recordUsage', old.scoped.recordUsage(id, { memoryMB: 1, cpuPercent: 1, at: T0 + 1 })],
      ['registerContainers', old.scoped.registerContainers([member('alpha', 9)], T0 + 1)],
      ['setDraining', registry.setDraining('alpha', old.epoch)],
      ['leave', registry.leave('alpha', old.epoch, 'stale agent leaves')],
    ];
    for (const [name, attempt] of attempts) {
      const error = await refusal(attempt);
      expect([name, error.code]).toEqual([name, 'STALE_EPOCH']);
      expect(error.data).toMatchObject({ hostId: 'alpha', epoch: old.epoch, heldEpoch: current.epoch });
    }
    expect(await store.getContainer(id)).toEqual(before);
    expect((await store.listContainers()).map((c) => c.id)).toEqual([id]);
    expect((await registry.listHosts())[0]).toMatchObject({ epoch: current.epoch, draining: false, members: [id], live: true });
    // The current epoch still writes.
    await current.scoped.transition(id, 'Available', 'Cleaning', T0 + 2);
  });

  it('reapExpired by any participant removes a dead host once: two racing reapers, then a third call, find it once', async () => {
    const shard = participant().store;
    const { registry } = participant();
    const { epoch, specs } = await hostWithMembers(registry, 'dead', 2);
    await hostWithMembers(registry, 'alive', 1);
    const { grants } = await shard.enqueue(request('holder'), T0, LEASE_TTL, 10);
    const lease = grants[0]!.lease;
    expect(lease.containerId).toBe(specs[0]!.id);
    await letDie(registry, shard, 'dead', epoch);

    const results = await Promise.all([participant().registry.reapExpired(), participant().registry.reapExpired()]);
    const found = results.filter((r) => r.hosts.length > 0);
    expect(found).toHaveLength(1);
    expect(found[0]).toEqual({ hosts: ['dead'], revoked: [lease], removedMembers: specs.map((s) => s.id) });
    expect(results.find((r) => r.hosts.length === 0)).toEqual({ hosts: [], revoked: [], removedMembers: [] });
    expect(await registry.reapExpired()).toEqual({ hosts: [], revoked: [], removedMembers: [] });

    expect(await shard.getEndedLease(lease.leaseId)).toMatchObject({
      reason: 'revoked',
      error: 'host-lost: host dead stopped renewing its lease (agent dead or cut off)',
    });
    expect((await shard.listContainers()).map((c) => c.id)).toEqual(['alive-mcp-1']);
    expect((await registry.listHosts()).map((h) => h.hostId)).toEqual(['alive']);
    expect((await shard.getCounters()).revocations).toBe(1);
  });

  it('dispatch skips members of a draining host and of a host whose lease expired; members without a host are served as before', async () => {
    const shard = participant().store;
    const { registry } = participant();
    const draining = await hostWithMembers(registry, 'draining', 1);
    const dying = await hostWithMembers(registry, 'dying', 1);
    const serving = await hostWithMembers(registry, 'serving', 1);
    await registry.setDraining('draining', draining.epoch);
    await letDie(registry, shard, 'dying', dying.epoch);
    expect((await registry.listHosts()).map((h) => [h.hostId, h.live, h.draining])).toEqual([
      ['draining', true, true],
      ['dying', false, false],
      ['serving', true, false],
    ]);

    const first = await shard.enqueue(request('first'), T0, LEASE_TTL, 10);
    expect(first.grants.map((g) => g.lease.containerId)).toEqual([serving.specs[0]!.id]);
    const second = await shard.enqueue(request('second'), T0, LEASE_TTL, 10);
    expect(second.grants).toEqual([]);
    expect(await shard.dispatch(T0, LEASE_TTL)).toEqual([]);
    expect((await shard.getContainer(draining.specs[0]!.id)).state).toBe('Available');
    expect((await shard.getContainer(dying.specs[0]!.id)).state).toBe('Available');

    // A member registered without a host (one machine) is not asked about hosts.
    await shard.registerContainers([{ id: 'local-1', name: 'local', port: 3001, memoryMB: 512, cpuPercent: 80 }], T0);
    await shard.transition('local-1', 'Starting', 'Available', T0);
    expect((await shard.dispatch(T0, LEASE_TTL)).map((g) => [g.request.requestId, g.lease.containerId])).toEqual([['second', 'local-1']]);
  });

  it('leave revokes the leases on its members with the reason, removes members, record and host lease', async () => {
    const shard = participant().store;
    const { registry } = participant();
    const { epoch, specs } = await hostWithMembers(registry, 'alpha', 2);
    const { grants } = await shard.enqueue(request('holder'), T0, LEASE_TTL, 10);
    const revoked = await registry.leave('alpha', epoch, 'host-lost: alpha drained (agent stopped)');
    expect(revoked).toEqual([grants[0]!.lease]);
    expect(await shard.getEndedLease(grants[0]!.lease.leaseId)).toMatchObject({ reason: 'revoked', error: 'host-lost: alpha drained (agent stopped)' });
    expect(await shard.listContainers()).toEqual([]);
    expect(await registry.listHosts()).toEqual([]);
    expect(await testRedis.admin.exists(shard.keys.hostLease('alpha'))).toBe(0);
    // The epoch only grows: the next agent claims epoch + 1.
    expect((await registry.claim(claimInput('alpha'))).epoch).toBe(epoch + 1);
    expect(specs).toHaveLength(2);
  });

  it('registerMembers writes hostId and the host address, and refuses an id another host registered', async () => {
    const { registry, store } = participant();
    const alpha = await registry.claim(claimInput('alpha'));
    const [record] = await registry.registerMembers('alpha', alpha.epoch, [member('alpha', 1)]);
    expect(record).toMatchObject({ id: 'alpha-mcp-1', state: 'Starting', hostId: 'alpha', address: claimInput('alpha').address });
    expect(await store.getContainer('alpha-mcp-1')).toEqual(record);
    const beta = await registry.claim(claimInput('beta'));
    const taken = await refusal(registry.registerMembers('beta', beta.epoch, [member('alpha', 1)]));
    expect(taken.code).toBe('INVALID_ARGUMENT');
    expect(taken.message).toContain('alpha-mcp-1');
    expect(await store.getContainer('alpha-mcp-1')).toEqual(record);
    // The scoped store lists only its host's members.
    await registry.registerMembers('beta', beta.epoch, [member('beta', 1)]);
    expect((await registry.scopedStore('beta', beta.epoch).listContainers()).map((c) => c.id)).toEqual(['beta-mcp-1']);
  });

  it("an agent's scoped store may not move, revoke or measure another host's member: UNKNOWN_CONTAINER, nothing changed", async () => {
    const { registry, store } = participant();
    const alpha = await hostWithMembers(registry, 'alpha', 1);
    const beta = await hostWithMembers(registry, 'beta', 1);
    const betaMember = beta.specs[0]!.id;
    const before = await store.getContainer(betaMember);
    for (const write of [
      alpha.scoped.transition(betaMember, 'Available', 'Resetting', T0),
      alpha.scoped.revoke(betaMember, T0, 'not yours'),
      alpha.scoped.recordUsage(betaMember, { memoryMB: 1, cpuPercent: 1, at: T0 }),
    ]) {
      expect((await refusal(write)).code).toBe('UNKNOWN_CONTAINER');
    }
    expect(await store.getContainer(betaMember)).toEqual(before);
    // Its own member it still moves.
    await alpha.scoped.transition(alpha.specs[0]!.id, 'Available', 'Resetting', T0);
    expect((await store.getContainer(alpha.specs[0]!.id)).state).toBe('Resetting');
  });

  it('signingKeys: participants racing get the same pair, the first one stored', async () => {
    const registries = [participant().registry, participant().registry, participant().registry];
    const pairs = await Promise.all(
      registries.map((r, i) => r.signingKeys(() => ({ publicKey: `public-${i}`, privateKey: `private-${i}` }))),
    );
    expect(new Set(pairs.map((p) => JSON.stringify(p))).size).toBe(1);
    expect(pairs[0]!.publicKey).toMatch(/^public-[012]$/);
    let generated = false;
    const later = await participant().registry.signingKeys(() => {
      generated = true;
      return { publicKey: 'x', privateKey: 'y' };
    });
    expect(later).toEqual(pairs[0]);
    expect(generated).toBe(false);
  });
});
