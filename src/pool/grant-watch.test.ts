import { describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../clock/fake-clock.js';
import { parsePoolOptions } from '../config/pool-config.js';
import { PoolError } from '../errors/pool-error.js';
import { MemoryPoolStore } from '../store/memory-store.js';
import type { Grant } from '../store/pool-store.js';
import { ContainerPoolManager, type Allocation } from './container-pool-manager.js';
import { DEFAULT_GRANT_POLL_MS, GrantWatch, grantNoticesOf } from './grant-watch.js';
import type { PoolHost, PoolHostWiring } from './pool-host.js';

const SPECS = [{ id: 'm1', name: 'member-1', port: 3101 }];

/**
 * A PoolHost over a store another participant also uses: the `owner` registers the members and cleans what is
 * released (as a host agent does); the other only allocates (as a shard does).
 */
function sharedHost(owner: boolean) {
  return (w: PoolHostWiring): PoolHost => ({
    async start() {
      if (owner) {
        await w.store.registerContainers(w.config.containerSpecs, w.clock.now());
        for (const s of w.config.containerSpecs) await w.store.transition(s.id, 'Starting', 'Available', w.clock.now());
      }
      return w.config.containerSpecs.length;
    },
    async recycle(id) {
      await w.store.transition(id, 'Cleaning', 'Available', w.clock.now());
      w.onAvailable();
      return 'Available';
    },
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
  });
}

/** A memory store that announces each dispatch pass's grants, as RedisPoolStore's pub/sub does. */
class AnnouncingStore extends MemoryPoolStore {
  readonly listeners = new Set<(ids: string[]) => void>();
  subscribeGrants(listener: (ids: string[]) => void): Promise<() => Promise<void>> {
    this.listeners.add(listener);
    return Promise.resolve(async () => void this.listeners.delete(listener));
  }
  override async dispatch(now: number, ttlMs: number): Promise<Grant[]> {
    const grants = await super.dispatch(now, ttlMs);
    if (grants.length) for (const l of this.listeners) l(grants.map((g) => g.request.requestId));
    return grants;
  }
}

function track<T>(promise: Promise<T>) {
  const state: { value?: T; error?: unknown; done: boolean } = { done: false };
  promise.then(
    (value) => Object.assign(state, { value, done: true }),
    (error: unknown) => Object.assign(state, { error, done: true }),
  );
  return state;
}

async function twoParticipants(store: MemoryPoolStore, grantPollMs?: number) {
  const clock = new FakeClock();
  const config = parsePoolOptions({ containerSpecs: SPECS, cleanup: { resetOnAllocation: 'none' } });
  const agent = new ContainerPoolManager({ config, store, clock, runId: 'agent', host: sharedHost(true) });
  const shard = new ContainerPoolManager({ config, store, clock, runId: 'shard', host: sharedHost(false), ...(grantPollMs ? { grantPollMs } : {}) });
  await agent.initialize();
  await shard.initialize();
  return { clock, agent, shard };
}

describe('grants made by another participant reach the waiter before its deadline', () => {
  it('by polling: a second manager on the same store releases, the first one\'s waiter gets the grant within one poll', async () => {
    const store = new MemoryPoolStore();
    const { clock, agent, shard } = await twoParticipants(store);
    const held = await agent.allocateContainerAdvanced({ testRunId: 'holder', timeoutMs: 60_000 });
    const waiting = track<Allocation>(shard.allocateContainerAdvanced({ testRunId: 'waiter', timeoutMs: 60_000 }));
    await flushMicrotasks();
    expect(waiting.done).toBe(false);

    // The agent's release: its own dispatch grants the member to the shard's request, which only the store knows.
    const released = await agent.releaseContainer({ leaseId: held.lease.leaseId, token: held.lease.token });
    await released.recycled;
    await flushMicrotasks();
    expect((await store.listLeases()).map((l) => l.testRunId)).toEqual(['waiter']);
    expect(waiting.done).toBe(false);

    await clock.advance(DEFAULT_GRANT_POLL_MS);
    expect(waiting.error).toBeUndefined();
    expect(waiting.value?.lease.testRunId).toBe('waiter');
    expect(waiting.value?.lease.token).toBeGreaterThan(held.lease.token);
    await Promise.all([agent.shutdown(), shard.shutdown()]);
  });

  it('by notice: a store that announces grants delivers with no clock movement at all', async () => {
    const store = new AnnouncingStore();
    // A poll period longer than the test's whole time line: only the notice can deliver.
    const { agent, shard } = await twoParticipants(store, 3_600_000);
    expect(store.listeners.size).toBe(2);
    const held = await agent.allocateContainerAdvanced({ testRunId: 'holder', timeoutMs: 60_000 });
    const waiting = track<Allocation>(shard.allocateContainerAdvanced({ testRunId: 'waiter', timeoutMs: 60_000 }));
    await flushMicrotasks();
    expect(waiting.done).toBe(false);

    await (await agent.releaseContainer({ leaseId: held.lease.leaseId, token: held.lease.token })).recycled;
    await flushMicrotasks();
    expect(waiting.error).toBeUndefined();
    expect(waiting.value?.lease.testRunId).toBe('waiter');
    await Promise.all([agent.shutdown(), shard.shutdown()]);
    expect(store.listeners.size).toBe(0);
  });
});

describe('GrantWatch', () => {
  function watch(options: { waiting: string[]; notices?: boolean; subscribeFails?: boolean }) {
    const clock = new FakeClock();
    const asked: string[][] = [];
    const delivered: string[] = [];
    const reported: string[] = [];
    let listener: ((ids: string[]) => void) | undefined;
    const unsubscribed: string[] = [];
    const w = new GrantWatch({
      clock,
      store: {
        grantsFor: async (ids) => {
          asked.push([...ids]);
          return ids.map((id) => ({ request: { requestId: id } }) as Grant);
        },
      },
      waitingIds: () => options.waiting,
      deliver: (grants) => delivered.push(...grants.map((g) => g.request.requestId)),
      report: (error, context) => reported.push(`${context}: ${(error as Error).message}`),
      ...(options.notices
        ? {
            notices: {
              subscribeGrants: async (l: (ids: string[]) => void) => {
                if (options.subscribeFails) throw new PoolError('STORE_UNAVAILABLE', 'redis down');
                listener = l;
                return async () => void unsubscribed.push('done');
              },
            },
          }
        : {}),
    });
    return { clock, w, asked, delivered, reported, notify: (ids: string[]) => listener?.(ids), unsubscribed };
  }

  it('asks only about requests waited here, on a notice naming one of them', async () => {
    const t = watch({ waiting: ['r1#0', 'r2#0'], notices: true });
    t.w.start();
    await flushMicrotasks();
    t.notify(['other#0']);
    await flushMicrotasks();
    expect(t.asked).toEqual([]);
    t.notify(['other#0', 'r2#0']);
    await flushMicrotasks();
    expect(t.asked).toEqual([['r1#0', 'r2#0']]);
    expect(t.delivered).toEqual(['r1#0', 'r2#0']);
    await t.w.stop();
    await t.w.stop();
    expect(t.unsubscribed).toEqual(['done']);
  });

  it('polls every pollMs while requests wait, and not once nothing waits', async () => {
    const waiting = ['r1#0'];
    const t = watch({ waiting });
    t.w.start();
    await t.clock.advance(DEFAULT_GRANT_POLL_MS * 3);
    expect(t.asked).toHaveLength(3);
    waiting.length = 0;
    await t.clock.advance(DEFAULT_GRANT_POLL_MS * 4);
    expect(t.asked).toHaveLength(3);
    expect(t.clock.pendingTimers()).toBe(0);
    // A new waiter wakes the poll up again.
    waiting.push('r2#0');
    t.w.wake();
    await t.clock.advance(DEFAULT_GRANT_POLL_MS);
    expect(t.asked.at(-1)).toEqual(['r2#0']);
    await t.w.stop();
    expect(t.clock.pendingTimers()).toBe(0);
  });

  it('a failed subscription is reported and polling carries on', async () => {
    const t = watch({ waiting: ['r1#0'], notices: true, subscribeFails: true });
    t.w.start();
    await t.clock.advance(DEFAULT_GRANT_POLL_MS);
    expect(t.reported).toEqual(['subscribe to grant notices (polling carries on): redis down']);
    expect(t.delivered).toEqual(['r1#0']);
    await t.w.stop();
  });

  it('finds notices on stores that offer them only', () => {
    expect(grantNoticesOf(new MemoryPoolStore())).toBeUndefined();
    expect(grantNoticesOf(new AnnouncingStore())).toBeDefined();
  });
});
