import { describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../clock/fake-clock.js';
import { parsePoolOptions } from '../config/pool-config.js';
import { MemoryPoolStore } from '../store/memory-store.js';
import type { EndedLease, Lease } from '../store/pool-store.js';
import { ContainerPoolManager } from './container-pool-manager.js';
import type { PoolHost, PoolHostWiring } from './pool-host.js';
import { RevocationWatch, TOLD_REVOCATIONS_KEPT, revocationNoticesOf, revocationReason } from './revocation-watch.js';

const SPECS = [
  { id: 'm1', name: 'member-1', port: 3101 },
  { id: 'm2', name: 'member-2', port: 3102 },
];

/** A memory store that announces revocations the way RedisPoolStore's host-removal and pool-epoch scripts do. */
class AnnouncingStore extends MemoryPoolStore {
  readonly listeners = new Set<(ids: string[]) => void>();
  subscribeRevocations(listener: (ids: string[]) => void): Promise<() => Promise<void>> {
    this.listeners.add(listener);
    return Promise.resolve(async () => void this.listeners.delete(listener));
  }
  announce(ids: string[]): void {
    for (const l of this.listeners) l(ids);
  }
  /** The memory store keeps no error on an ended lease; the Redis one keeps the host-lost / failover words. */
  readonly errors = new Map<string, string>();
  override async revoke(containerId: string, now: number, error: string): Promise<Lease | undefined> {
    const lease = await super.revoke(containerId, now, error);
    if (lease) this.errors.set(lease.leaseId, error);
    return lease;
  }
  override async getEndedLease(leaseId: string): Promise<EndedLease | undefined> {
    const ended = await super.getEndedLease(leaseId);
    const error = this.errors.get(leaseId);
    return ended && error ? { ...ended, error } : ended;
  }
}

/** Registers its members itself and hands them out; nothing else (a shard whose agent is someone else). */
function host(w: PoolHostWiring): PoolHost {
  return {
    async start() {
      await w.store.registerContainers(w.config.containerSpecs, w.clock.now());
      for (const s of w.config.containerSpecs) await w.store.transition(s.id, 'Starting', 'Available', w.clock.now());
      return w.config.containerSpecs.length;
    },
    recycle: async () => 'Cleaning',
    async endpoint(id) {
      const spec = w.config.containerSpecs.find((s) => s.id === id)!;
      return { id, name: spec.name, port: spec.port, url: `http://127.0.0.1:${spec.port}/mcp` };
    },
    leaseCredential: (lease) => `credential-${lease.token}`,
    resetLeased: () => Promise.reject(new Error('not used')),
    readTrace: () => Promise.resolve([]),
    isBusy: () => false,
    resume: () => Promise.resolve(),
    stopMonitor: () => Promise.resolve(),
    settle: () => Promise.resolve(),
    stopAll: () => Promise.resolve(),
    resetIdle: () => Promise.reject(new Error('not used')),
  };
}

async function pool(store: MemoryPoolStore) {
  const clock = new FakeClock();
  const config = parsePoolOptions({ containerSpecs: SPECS, cleanup: { resetOnAllocation: 'none' } });
  const manager = new ContainerPoolManager({ config, store, clock, host });
  const told: Array<{ leaseId: string; reason: string }> = [];
  manager.on('leaseRevoked', ({ lease, reason }) => told.push({ leaseId: lease.leaseId, reason }));
  await manager.initialize();
  return { clock, manager, told };
}

const HOST_LOST = 'host-lost: host h1 stopped renewing its lease (agent dead or cut off)';

describe('revocations made by another participant reach the holder here at once', () => {
  it('a notice naming a lease granted here tells its holder with the store\'s reason, with no clock movement', async () => {
    const store = new AnnouncingStore();
    const { clock, manager, told } = await pool(store);
    expect(store.listeners.size).toBe(1);
    const a = await manager.allocateContainer('held-here');
    // Another participant (an agent's sweep reaping h1) revokes it in the store and publishes its id.
    await store.revoke(a.lease.containerId, clock.now(), HOST_LOST);
    store.announce([a.lease.leaseId]);
    await flushMicrotasks();
    expect(told).toEqual([{ leaseId: a.lease.leaseId, reason: HOST_LOST }]);
    await manager.shutdown();
    expect(store.listeners.size).toBe(0);
  });

  it('tells each revocation once: a repeated notice and this pool\'s own sweep finding it too stay silent', async () => {
    const store = new AnnouncingStore();
    const { clock, manager, told } = await pool(store);
    const a = await manager.allocateContainer('held-here');
    await store.revoke(a.lease.containerId, clock.now(), HOST_LOST);
    store.announce([a.lease.leaseId]);
    store.announce([a.lease.leaseId]);
    await flushMicrotasks();
    // The second path: this pool's sweep (RemoteHosts.reapLost) emits the same revocation.
    expect(manager.emit('leaseRevoked', { lease: a.lease, reason: 'host-lost: found by this shard' })).toBe(false);
    expect(told.map((t) => t.leaseId)).toEqual([a.lease.leaseId]);
    await manager.shutdown();
  });

  it('ignores ids not held here, leases that ended otherwise, and leases still active', async () => {
    const store = new AnnouncingStore();
    const { clock, manager, told } = await pool(store);
    const released = await manager.allocateContainer('released');
    const active = await manager.allocateContainer('active');
    await manager.releaseContainer({ leaseId: released.lease.leaseId, token: released.lease.token });
    store.announce([released.lease.leaseId, active.lease.leaseId, 'someone-elses-lease']);
    await flushMicrotasks();
    expect(told).toEqual([]);
    // Revoked after the notice that named it: a later notice still tells it.
    await store.revoke(active.lease.containerId, clock.now(), 'failover: Redis master changed (pool epoch 1); leases granted before it end');
    store.announce([active.lease.leaseId]);
    await flushMicrotasks();
    expect(told).toEqual([{ leaseId: active.lease.leaseId, reason: 'failover: Redis master changed (pool epoch 1); leases granted before it end' }]);
    await manager.shutdown();
  });

  it('a store without notices is left to renewals; a failed lookup is reported and the next id still told', async () => {
    expect(revocationNoticesOf(new MemoryPoolStore())).toBeUndefined();
    expect(revocationNoticesOf(new AnnouncingStore())).toBeDefined();
    const listeners: Array<(ids: string[]) => void> = [];
    const told: string[] = [];
    const reports: string[] = [];
    const ended = { lease: { leaseId: 'b' } as Lease, reason: 'revoked' as const, endedAt: 1, error: HOST_LOST };
    const watch = new RevocationWatch({
      store: { getEndedLease: async (id) => (id === 'a' ? Promise.reject(new Error('Redis down')) : ended) },
      tell: (lease, reason) => told.push(`${lease.leaseId}: ${reason}`),
      report: (_e, context) => reports.push(context),
      notices: { subscribeRevocations: async (l) => (listeners.push(l), async () => {}) },
    });
    watch.start();
    watch.granted('a');
    watch.granted('b');
    await flushMicrotasks();
    listeners[0]!(['a', 'b']);
    await flushMicrotasks();
    expect(reports).toEqual(['read how lease a ended (its holder learns at its next renewal)']);
    expect(told).toEqual([`b: ${HOST_LOST}`]);
    await watch.stop();
  });

  it('remembers a bounded number of told revocations, oldest out first', () => {
    const watch = new RevocationWatch({ store: { getEndedLease: async () => undefined }, tell: () => {}, report: () => {} });
    for (let i = 0; i <= TOLD_REVOCATIONS_KEPT; i++) expect(watch.firstTelling(`l${i}`)).toBe(true);
    expect(watch.firstTelling(`l${TOLD_REVOCATIONS_KEPT}`)).toBe(false);
    expect(watch.firstTelling('l0')).toBe(true);
  });

  it('a revocation without the store\'s words says the container failed', () => {
    expect(revocationReason({})).toBe('its container failed and the pool took it back');
    expect(revocationReason({ error: HOST_LOST })).toBe(HOST_LOST);
  });
});
