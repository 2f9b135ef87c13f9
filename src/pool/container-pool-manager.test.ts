import { describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../clock/fake-clock.js';
import { parsePoolOptions } from '../config/pool-config.js';
import type { PoolOptionsInput } from '../config/schemas.js';
import { MemoryPoolStore } from '../store/memory-store.js';
import { PoolError } from '../errors/pool-error.js';
import { credentialDecision } from '../runtime/mcp-guard.js';
import { MemberCredentials } from '../runtime/member-credentials.js';
import { FakeCleaner, FakeFence, FakeHealthGate, FakeResetter, FakeRuntime } from '../../test/support/fakes.js';
import { ContainerPoolManager, type Allocation, type CleanupsAtShutdown } from './container-pool-manager.js';
import type { PoolEventMap, PoolEventName } from './pool-events.js';

function setup(options: PoolOptionsInput = {}, deps: { cleanupsAtShutdown?: CleanupsAtShutdown } = {}) {
  const clock = new FakeClock();
  const store = new MemoryPoolStore();
  const runtime = new FakeRuntime();
  const health = new FakeHealthGate(runtime);
  const cleaner = new FakeCleaner();
  const resetter = new FakeResetter();
  // What the fence, cleanup, reset, gate and state moves did, in order (trace() adds all but the fence's).
  const trail: string[] = [];
  const fence = new FakeFence(trail);
  const credentials = new MemberCredentials();
  const manager = new ContainerPoolManager({ config: parsePoolOptions(options), store, runtime, health, cleaner, resetter, clock, credentials, fence: fence.fence, runId: 'test', ...deps });
  const events: Array<{ name: PoolEventName; payload: unknown }> = [];
  for (const name of ['leaseExpired', 'leaseRevoked', 'containerUnhealthy', 'containerRecovered', 'degradationStarted', 'containerReleased', 'backgroundError'] as const) {
    manager.on(name, (payload) => events.push({ name, payload }));
  }
  const eventsNamed = <K extends PoolEventName>(name: K) => events.filter((e) => e.name === name).map((e) => e.payload as PoolEventMap[K]);
  return { clock, store, runtime, health, cleaner, resetter, fence, credentials, trail, manager, events, eventsNamed };
}

async function settled<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown; done: boolean }> {
  const state: { value?: T; error?: unknown; done: boolean } = { done: false };
  promise.then(
    (value) => Object.assign(state, { value, done: true }),
    (error: unknown) => Object.assign(state, { error, done: true }),
  );
  await flushMicrotasks();
  return state;
}

async function states(store: MemoryPoolStore): Promise<string[]> {
  return (await store.listContainers()).map((c) => c.state);
}

/** Records cleanup, reset, health gate, recreate and state moves into the trail the fake fence writes to, from now on. */
function trace(pool: ReturnType<typeof setup>): string[] {
  const { trail, cleaner, resetter, health, runtime, manager } = pool;
  trail.length = 0; // from here on: what came before (the start's fences) is not the test's
  const cleanup = cleaner.cleanup.bind(cleaner);
  cleaner.cleanup = async (id, level) => {
    trail.push(`cleanup ${id}`);
    return cleanup(id, level);
  };
  const reset = resetter.reset.bind(resetter);
  resetter.reset = async (id, strategy) => {
    trail.push(`reset ${id} ${strategy}`);
    return reset(id, strategy);
  };
  const gate = health.isContainerReady.bind(health);
  health.isContainerReady = async (port, id) => {
    trail.push(`gate ${id}`);
    return gate(port, id);
  };
  const recreate = runtime.recreate.bind(runtime);
  runtime.recreate = async (id) => {
    trail.push(`recreate ${id}`);
    return recreate(id);
  };
  manager.on('containerStateChanged', (e) => trail.push(`${e.containerId} ${e.from}>${e.to}`));
  return trail;
}

/** What the member's guard decides on `credential` at `floor` (the guard's own rule, docker/image/mcp-guard.cjs). */
function atGuard(credentials: MemberCredentials, member: string, floor: number | null, credential: string) {
  return credentialDecision(credentials.keyOf(member), member, floor, `Bearer ${credential}`);
}

describe('ContainerPoolManager lifecycle', () => {
  it('reaps leftovers, starts every container and gates it on health before opening', async () => {
    const { manager, runtime, store, health } = setup();
    runtime.leftovers = ['cinnamon-qa-mcp-1 (old run)'];
    await manager.initialize();
    expect(runtime.calls).toEqual(['start container-1', 'start container-2']);
    expect(health.checks).toEqual(['container-1', 'container-2']);
    expect(await states(store)).toEqual(['Available', 'Available']);
    const status = await manager.getPoolStatus();
    expect(status.containers.map((c) => [c.name, c.port])).toEqual([
      ['cinnamon-qa-mcp-1', 3001],
      ['cinnamon-qa-mcp-2', 3002],
    ]);
    await manager.shutdown();
  });

  it('a failed health gate stops what started and names the container, the stage and the fix', async () => {
    const { manager, runtime, health } = setup();
    health.notReady.set('container-2', 'mcp');
    const error = await manager.initialize().then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'HEALTH_GATE_FAILED', data: { containerId: 'container-2', failedStage: 'mcp' } });
    expect((error as Error).message).toMatch(/cinnamon-qa-mcp-2.*stage 'mcp'.*Fix:/s);
    expect(runtime.running.size).toBe(0);
    expect(runtime.listenerCount()).toBe(0);
    await expect(manager.allocateContainer('t')).rejects.toMatchObject({ code: 'POOL_SHUT_DOWN' });
  });

  it('shutdown fails waiting requests, stops every container, and is safe twice', async () => {
    const { manager, runtime, store } = setup({ containers: 1 });
    await manager.initialize();
    await manager.allocateContainer('holder');
    const waiting = manager.allocateContainer('waiter');
    const outcome = settled(waiting);
    await flushMicrotasks();
    await Promise.all([manager.shutdown(), manager.shutdown()]);
    expect((await outcome).error).toMatchObject({ code: 'POOL_SHUT_DOWN' });
    expect(runtime.running.size).toBe(0);
    expect(runtime.closed).toBe(true);
    expect(await store.listQueue()).toEqual([]);
    await expect(manager.allocateContainer('late')).rejects.toMatchObject({ code: 'POOL_SHUT_DOWN' });
  });
});

describe('ContainerPoolManager shutdown under a running cleanup', () => {
  /** One member, released, its cleanup held until `finishCleanup()`; then shutdown begins. */
  async function shutdownDuringCleanup(cleanupsAtShutdown: CleanupsAtShutdown) {
    const pool = setup({ containers: 1 }, { cleanupsAtShutdown });
    const { manager, cleaner } = pool;
    await manager.initialize();
    let finishCleanup!: () => void;
    cleaner.gate = new Promise((resolve) => (finishCleanup = resolve));
    const completed: string[] = [];
    manager.on('cleanupCompleted', (r) => completed.push(r.containerId));
    const a = await manager.allocateContainer('holder');
    await manager.releaseContainer({ leaseId: a.lease.leaseId, token: a.lease.token });
    await flushMicrotasks();
    expect(cleaner.calls).toHaveLength(1); // the cleanup runs, held
    const down = settled(manager.shutdown());
    await flushMicrotasks();
    return { ...pool, completed, finishCleanup, down };
  }

  it("'abandon' (a run whose members are removed): the member is stopped under the cleanup, which then ends without a result", async () => {
    const { runtime, store, completed, finishCleanup, down } = await shutdownDuringCleanup('abandon');
    expect(runtime.calls).toContain('stop container-1'); // not waiting for the cleanup
    expect((await down).done).toBe(false); // but the shutdown waits for it to end before the pool is closed
    finishCleanup(); // as the real cleanup's exec fails once its container is gone
    await flushMicrotasks();
    expect((await down).done).toBe(true);
    expect(completed).toEqual([]); // a cleanup cut short says nothing about the member
    expect(await states(store)).toEqual(['Stopped']);
    expect(runtime.running.size).toBe(0);
  });

  it("'finish' (the default; a warm pool's members are reused): the member is stopped only after its cleanup finished", async () => {
    const { runtime, store, completed, finishCleanup, down } = await shutdownDuringCleanup('finish');
    expect(runtime.calls).not.toContain('stop container-1');
    expect((await down).done).toBe(false);
    finishCleanup();
    await flushMicrotasks();
    expect((await down).done).toBe(true);
    expect(completed).toEqual(['container-1']);
    expect(runtime.calls.indexOf('stop container-1')).toBeGreaterThan(-1);
    expect(await states(store)).toEqual(['Stopped']);
  });
});

describe('ContainerPoolManager allocation', () => {
  it('allocates, releases, cleans, and hands the container on', async () => {
    const { manager, store, cleaner } = setup();
    await manager.initialize();
    const a = await manager.allocateContainerAdvanced({ testRunId: 'checkout', priority: 'critical' });
    expect(a.container).toEqual({ id: 'container-1', name: 'cinnamon-qa-mcp-1', port: 3001, url: 'http://localhost:3001/mcp' });
    expect(a.waitMs).toBe(0);
    const released = await manager.releaseContainer({ leaseId: a.lease.leaseId, token: a.lease.token });
    expect(await released.recycled).toBe('Available');
    expect(cleaner.calls).toEqual([{ containerId: 'container-1', level: 'full' }]);
    expect(await states(store)).toEqual(['Available', 'Available']);
    const counters = await store.getCounters();
    expect([counters.allocations, counters.releases]).toEqual([1, 1]);
    await manager.shutdown();
  });

  it("queues every request for the pool's tenant with its quota (pool options tenant, tenantQuota)", async () => {
    const { manager, store } = setup({ containers: 1, tenant: 'team-a', tenantQuota: 1 });
    await manager.initialize();
    const a = await manager.allocateContainerAdvanced({ testRunId: 'checkout' });
    expect(a.lease.tenant).toBe('team-a');
    const waiting = manager.allocateContainerAdvanced({ testRunId: 'search' });
    await flushMicrotasks();
    expect(await store.listQueue()).toEqual([expect.objectContaining({ testRunId: 'search', tenant: 'team-a', tenantQuota: 1 })]);
    await manager.releaseContainer({ leaseId: a.lease.leaseId, token: a.lease.token });
    expect((await waiting).lease.tenant).toBe('team-a');
    await manager.shutdown();
  });

  it('queues when busy and serves critical > high > normal > low, FIFO inside a level', async () => {
    const { manager, clock } = setup({ containers: 1 });
    await manager.initialize();
    let held: Allocation = await manager.allocateContainer('first');
    const order: string[] = [];
    const names: Array<[string, 'low' | 'normal' | 'high' | 'critical']> = [
      ['low-1', 'low'],
      ['normal-1', 'normal'],
      ['critical-1', 'critical'],
      ['high-1', 'high'],
      ['normal-2', 'normal'],
    ];
    const pending = names.map(([id, priority]) =>
      manager.allocateContainerAdvanced({ testRunId: id, priority }).then((a) => {
        order.push(id);
        return a;
      }),
    );
    await flushMicrotasks();
    for (let i = 0; i < names.length; i++) {
      await clock.advance(100);
      const released = await manager.releaseContainer({ leaseId: held.lease.leaseId, token: held.lease.token });
      await released.recycled;
      await flushMicrotasks();
      held = (await Promise.race(pending.filter((_, j) => order.length > 0 && names[j]![0] === order.at(-1))))!;
    }
    expect(order).toEqual(['critical-1', 'high-1', 'normal-1', 'normal-2', 'low-1']);
    const status = await manager.getPoolStatus();
    expect(status.queue.size).toBe(0);
    const analytics = await manager.getSystemAnalytics();
    expect(analytics.allocations.map((x) => x.testRunId)).toEqual(['first', 'critical-1', 'high-1', 'normal-1', 'normal-2', 'low-1']);
    expect(analytics.allocations.find((x) => x.testRunId === 'low-1')!.waitMs).toBe(500);
    await manager.shutdown();
  });

  it("records the config's run group in the analytics (merge-reports reads it), and none without one", async () => {
    for (const [options, expected] of [
      [{ containers: 1, runGroup: 'github:9876543210-1' }, 'github:9876543210-1'],
      [{ containers: 1 }, undefined],
    ] as const) {
      const { manager } = setup(options);
      await manager.initialize();
      const analytics = await manager.getSystemAnalytics();
      expect(analytics.runGroup).toBe(expected);
      expect('runGroup' in analytics).toBe(expected !== undefined);
      await manager.shutdown();
    }
  });

  it('fails a request that waits past its timeout, with a typed error, and dequeues it', async () => {
    const { manager, clock, store } = setup({ containers: 1 });
    await manager.initialize();
    await manager.allocateContainer('holder');
    const outcome = await settled(manager.allocateContainerAdvanced({ testRunId: 'impatient', timeoutMs: 1000 }));
    await clock.advance(999);
    expect(outcome.done).toBe(false);
    await clock.advance(1);
    expect(outcome.error).toMatchObject({ code: 'ALLOCATION_TIMEOUT', data: { testRunId: 'impatient', timeoutMs: 1000 } });
    expect(await store.listQueue()).toEqual([]);
    expect((await store.getCounters()).failedAllocations).toBe(1);
    const analytics = await manager.getSystemAnalytics();
    expect(analytics.resourceMetrics.failureAnalysis.byCategory).toEqual({ timeout: 1, resource: 0, system: 0 });
    expect(analytics.optimizationRecommendations.map((r) => r.rule)).toContain('allocation-timeouts');
    await manager.shutdown();
  });

  it('retries up to maxRetries and succeeds when a container frees up in time', async () => {
    const { manager, clock } = setup({ containers: 1 });
    await manager.initialize();
    const holder = await manager.allocateContainer('holder');
    const outcome = await settled(manager.allocateContainerAdvanced({ testRunId: 'patient', timeoutMs: 1000, maxRetries: 2 }));
    await clock.advance(2500);
    expect(outcome.done).toBe(false);
    await (await manager.releaseContainer({ leaseId: holder.lease.leaseId, token: holder.lease.token })).recycled;
    await flushMicrotasks();
    expect(outcome.value).toMatchObject({ attempts: 3, waitMs: 2500 });
    await manager.shutdown();
  });

  it('cancels a waiting request through its AbortSignal', async () => {
    const { manager, store } = setup({ containers: 1 });
    await manager.initialize();
    await manager.allocateContainer('holder');
    const controller = new AbortController();
    const outcome = await settled(manager.allocateContainerAdvanced({ testRunId: 'bored', signal: controller.signal }));
    expect((await store.listQueue()).length).toBe(1);
    controller.abort();
    await flushMicrotasks();
    expect(outcome.error).toMatchObject({ code: 'ALLOCATION_CANCELLED' });
    expect(await store.listQueue()).toEqual([]);
    await manager.shutdown();
  });

  it('rejects bad input with typed errors and queues nothing', async () => {
    const { manager, store } = setup({ containers: 1 });
    await manager.initialize();
    await expect(manager.allocateContainerAdvanced({ testRunId: 't', priority: 'urgent' as never })).rejects.toMatchObject({ code: 'INVALID_PRIORITY' });
    await expect(manager.allocateContainerAdvanced({ testRunId: 't', timeoutMs: -5 })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(manager.allocateContainerAdvanced({ testRunId: 't', timeoutMs: Number.NaN })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(manager.allocateContainerAdvanced({ testRunId: '' })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(manager.allocateContainerAdvanced({ testRunId: 't', requiredResources: { minMemoryMB: 100_000 } })).rejects.toMatchObject({ code: 'UNSATISFIABLE_REQUEST' });
    await expect(manager.releaseContainer('container-9')).rejects.toMatchObject({ code: 'UNKNOWN_CONTAINER' });
    await expect(manager.releaseContainer({ leaseId: 'x', token: Number.NaN })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await store.listQueue()).toEqual([]);
    expect(await store.listLeases()).toEqual([]);
    expect(await states(store)).toEqual(['Available']);
    await manager.shutdown();
  });
});

describe('ContainerPoolManager leases', () => {
  it('refuses a stale token and a double release, changing nothing', async () => {
    const { manager, store } = setup({ containers: 1 });
    await manager.initialize();
    const a = await manager.allocateContainer('t');
    await expect(manager.releaseContainer({ leaseId: a.lease.leaseId, token: a.lease.token + 1 })).rejects.toMatchObject({ code: 'STALE_TOKEN' });
    expect(await states(store)).toEqual(['Allocated']);
    await (await manager.releaseContainer({ leaseId: a.lease.leaseId, token: a.lease.token })).recycled;
    await expect(manager.releaseContainer({ leaseId: a.lease.leaseId, token: a.lease.token })).rejects.toMatchObject({ code: 'ALREADY_RELEASED' });
    await expect(manager.releaseContainer('container-1')).rejects.toMatchObject({ code: 'ALREADY_RELEASED' });
    expect((await store.getCounters()).releases).toBe(1);
    await manager.shutdown();
  });

  it('reclaims an expired lease by itself: container cleaned and handed to the next request', async () => {
    const { manager, clock, store, eventsNamed } = setup({ containers: 1, lease: { ttlMs: 2000, sweepIntervalMs: 500 } });
    await manager.initialize();
    const lost = await manager.allocateContainer('crashed-worker');
    const next = await settled(manager.allocateContainer('next'));
    await clock.advance(1999);
    expect(next.done).toBe(false);
    await clock.advance(501);
    expect(eventsNamed('leaseExpired').map((e) => e.lease.leaseId)).toEqual([lost.lease.leaseId]);
    expect(next.value?.lease.containerId).toBe('container-1');
    expect((await store.getCounters()).expirations).toBe(1);
    await expect(manager.releaseContainer({ leaseId: lost.lease.leaseId, token: lost.lease.token })).rejects.toMatchObject({ code: 'LEASE_EXPIRED' });
    await expect(manager.renewLease({ leaseId: lost.lease.leaseId, token: lost.lease.token })).rejects.toMatchObject({ code: 'LEASE_EXPIRED' });
    await manager.shutdown();
  });

  it("leaves another host's member alone when its sweep reclaims that member's expired lease (a shared store: that host's agent cleans it)", async () => {
    const pool = setup({ containers: 1, lease: { ttlMs: 2000, sweepIntervalMs: 500 } });
    const { manager, clock, store, eventsNamed } = pool;
    await manager.initialize();
    // Another host's member, registered in the same store and leased by someone else's coordinator.
    await store.registerContainers([{ id: 'h2-1', name: 'mcp-h2-1', port: 3101, memoryMB: 512, cpuPercent: 100 }], clock.now());
    await store.transition('h2-1', 'Starting', 'Available', clock.now());
    const own = await manager.allocateContainer('ours');
    const { grants } = await store.enqueue(
      { requestId: 'elsewhere#0', testRunId: 'other-shard', priority: 'normal', requestedAt: clock.now(), deadline: clock.now() + 10_000, requirements: {}, attempt: 0 },
      clock.now(),
      2000,
      10,
    );
    expect(grants.map((g) => g.lease.containerId)).toEqual(['h2-1']);
    const trail = trace(pool);
    await manager.renewLease({ leaseId: own.lease.leaseId, token: own.lease.token });
    await clock.advance(2500);
    // Reclaimed here (any participant's sweep may), but neither fenced, cleaned nor moved by this keeper.
    expect(eventsNamed('leaseExpired').map((e) => e.lease.containerId)).toContain('h2-1');
    expect(trail.filter((t) => t.includes('h2-1'))).toEqual([]);
    expect((await store.getContainer('h2-1')).state).toBe('Cleaning');
    await manager.shutdown();
  });

  it('a store outage while a released container is cleaned does not strand it: the move is retried until the store answers', async () => {
    const { manager, store, clock, eventsNamed } = setup({ containers: 1 });
    await manager.initialize();
    const a = await manager.allocateContainer('t');
    // Redis restarting: the first two writes of Cleaning → Available fail, the third is applied but its reply is
    // lost with the connection, the fourth finds the move already made.
    const transition = store.transition.bind(store);
    let calls = 0;
    store.transition = async (id, from, to, now, error) => {
      if (from !== 'Cleaning' || to !== 'Available') return transition(id, from, to, now, error);
      calls++;
      if (calls === 3) await transition(id, from, to, now, error);
      if (calls <= 3) throw new PoolError('STORE_UNAVAILABLE', 'Redis at 127.0.0.1:6379 failed during transition: Connection is closed.');
      return transition(id, from, to, now, error);
    };
    const released = await manager.releaseContainer({ leaseId: a.lease.leaseId, token: a.lease.token });
    const recycled = settled(released.recycled);
    await flushMicrotasks();
    expect(await states(store)).toEqual(['Cleaning']);
    await clock.advance(50 + 100 + 200);
    expect((await recycled).value).toBe('Available');
    expect(calls).toBe(4);
    expect(await states(store)).toEqual(['Available']);
    expect(eventsNamed('backgroundError')).toHaveLength(1);
    const next = await manager.allocateContainer('next');
    expect(next.lease.containerId).toBe('container-1');
    await manager.shutdown();
  });

  it('a release whose store reply was lost leaves no container stranded in Cleaning: the sweep adopts it after a cleanup budget', async () => {
    const { manager, store, clock, cleaner } = setup({ containers: 1, cleanup: { stageTimeoutMs: 1_000 }, lease: { sweepIntervalMs: 500 } });
    await manager.initialize();
    const a = await manager.allocateContainer('t');
    // Redis restarted mid-call: the release script ran, its reply never came back.
    const release = store.release.bind(store);
    store.release = async (leaseId, token, now) => {
      store.release = release;
      await release(leaseId, token, now);
      throw new PoolError('STORE_UNAVAILABLE', 'Redis at 127.0.0.1:6379 failed during release: Connection is closed.');
    };
    await expect(manager.releaseContainer({ leaseId: a.lease.leaseId, token: a.lease.token })).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    // The holder's retry is told the lease is already released: nothing starts the cleanup.
    await expect(manager.releaseContainer({ leaseId: a.lease.leaseId, token: a.lease.token })).rejects.toMatchObject({ code: 'ALREADY_RELEASED' });
    expect(await states(store)).toEqual(['Cleaning']);
    await clock.advance(5_500); // under six stages × 1 s: another coordinator could still be cleaning it
    expect(await states(store)).toEqual(['Cleaning']);
    expect(cleaner.calls).toEqual([]);
    await clock.advance(1_000);
    expect(await states(store)).toEqual(['Available']);
    expect(cleaner.calls).toEqual([{ containerId: 'container-1', level: 'full' }]);
    expect((await manager.getAuditLog()).filter((e) => e.type === 'cleanup-adopted')).toHaveLength(1);
    await manager.shutdown();
  });

  it('renewal keeps a lease alive past its TTL', async () => {
    const { manager, clock, store } = setup({ containers: 1, lease: { ttlMs: 2000, sweepIntervalMs: 500 } });
    await manager.initialize();
    const a = await manager.allocateContainer('heartbeat');
    for (let i = 0; i < 6; i++) {
      await clock.advance(1000);
      await manager.renewLease({ leaseId: a.lease.leaseId, token: a.lease.token });
    }
    expect(await states(store)).toEqual(['Allocated']);
    expect((await store.getCounters()).expirations).toBe(0);
    await manager.shutdown();
  });

  it('a leased container that dies: the holder learns at once, the pool recovers it', async () => {
    const { manager, runtime, store, eventsNamed, resetter } = setup({ containers: 1 });
    await manager.initialize();
    const a = await manager.allocateContainer('victim');
    runtime.kill('container-1');
    await flushMicrotasks();
    expect(eventsNamed('leaseRevoked')).toMatchObject([{ lease: { leaseId: a.lease.leaseId }, reason: expect.stringContaining('cinnamon-qa-mcp-1 died') }]);
    expect(eventsNamed('containerUnhealthy')).toMatchObject([{ containerId: 'container-1', consecutiveFailures: 1 }]);
    await flushMicrotasks();
    expect(resetter.calls[0]).toEqual({ containerId: 'container-1', strategy: 'hard' });
    expect(eventsNamed('containerRecovered').length).toBe(1);
    expect(await states(store)).toEqual(['Available']);
    await expect(manager.releaseContainer({ leaseId: a.lease.leaseId, token: a.lease.token })).rejects.toMatchObject({ code: 'LEASE_REVOKED' });
    const again = await manager.allocateContainer('next');
    expect(again.lease.token).toBeGreaterThan(a.lease.token);
    await manager.shutdown();
  });

  it('failed cleanup sends the container to Resetting, then back to Available after the reset', async () => {
    const { manager, cleaner, resetter, store } = setup({ containers: 1 });
    await manager.initialize();
    cleaner.failing.add('container-1');
    const a = await manager.allocateContainer('dirty');
    const transitions: string[] = [];
    manager.on('containerStateChanged', (e) => transitions.push(`${e.from}>${e.to}`));
    await (await manager.releaseContainer({ leaseId: a.lease.leaseId, token: a.lease.token })).recycled;
    expect(transitions).toEqual(['Cleaning>Resetting', 'Resetting>Available']);
    expect(resetter.calls).toEqual([{ containerId: 'container-1', strategy: 'medium' }]);
    expect(await states(store)).toEqual(['Available']);
    const audit = await manager.getAuditLog();
    expect(audit.find((e) => e.type === 'cleanup')).toMatchObject({ outcome: 'failed' });
    await manager.shutdown();
  });

  it('a cleanup that finds MCP sessions still open resets hard (only a restart drops sessions)', async () => {
    const { manager, cleaner, resetter } = setup({ containers: 1 });
    await manager.initialize();
    cleaner.sessionsOpen.add('container-1');
    const a = await manager.allocateContainer('sticky-client');
    expect(await (await manager.releaseContainer({ leaseId: a.lease.leaseId, token: a.lease.token })).recycled).toBe('Available');
    expect(resetter.calls).toEqual([{ containerId: 'container-1', strategy: 'hard' }]);
    await manager.shutdown();
  });

  it('a cleanup whose stage used up its budget resets hard (in-container resets would wait out their budgets too)', async () => {
    const { manager, cleaner, resetter } = setup({ containers: 1 });
    await manager.initialize();
    cleaner.stuck.add('container-1');
    const a = await manager.allocateContainer('fork-bomber');
    expect(await (await manager.releaseContainer({ leaseId: a.lease.leaseId, token: a.lease.token })).recycled).toBe('Available');
    expect(resetter.calls).toEqual([{ containerId: 'container-1', strategy: 'hard' }]);
    await manager.shutdown();
  });

  it('when every reset fails the container is recreated and health-gated (Resetting → Starting → Available)', async () => {
    const { manager, cleaner, resetter, runtime, store } = setup({ containers: 1 });
    await manager.initialize();
    cleaner.failing.add('container-1');
    resetter.failing = new Set(['medium', 'hard', 'recovery']);
    const transitions: string[] = [];
    manager.on('containerStateChanged', (e) => transitions.push(`${e.from}>${e.to}`));
    const a = await manager.allocateContainer('dirty');
    await (await manager.releaseContainer({ leaseId: a.lease.leaseId, token: a.lease.token })).recycled;
    expect(transitions).toEqual(['Cleaning>Resetting', 'Resetting>Starting', 'Starting>Available']);
    expect(runtime.calls).toContain('recreate container-1');
    expect(await states(store)).toEqual(['Available']);
    await manager.shutdown();
  });
});

describe('ContainerPoolManager health monitoring', () => {
  it('restarts a container over its memory threshold as soon as no test holds it', async () => {
    const { manager, runtime, resetter, clock } = setup({ containers: 1, health: { healthCheckIntervalMs: 1000, memoryThresholdMB: 300 }, lease: { ttlMs: 60_000 } });
    const exceeded: unknown[] = [];
    manager.on('memoryThresholdExceeded', (e) => exceeded.push(e));
    await manager.initialize();
    const a = await manager.allocateContainer('memory-hog');
    runtime.memoryMB.set('container-1', 480);
    await clock.advance(1000);
    expect(exceeded).toEqual([{ containerId: 'container-1', memoryUsage: 480, threshold: 300 }]);
    expect(resetter.calls).toEqual([]); // held: not touched yet
    const transitions: string[] = [];
    manager.on('containerStateChanged', (e) => transitions.push(`${e.from}>${e.to}`));
    await (await manager.releaseContainer({ leaseId: a.lease.leaseId, token: a.lease.token })).recycled;
    expect(resetter.calls).toEqual([{ containerId: 'container-1', strategy: 'hard' }]);
    expect(transitions).toEqual(['Cleaning>Resetting', 'Resetting>Available']);
    await manager.shutdown();
  });

  it('does not restart when cleanup brought memory back under the threshold', async () => {
    const { manager, runtime, resetter, clock } = setup({ containers: 1, health: { healthCheckIntervalMs: 1000, memoryThresholdMB: 300 }, lease: { ttlMs: 60_000 } });
    await manager.initialize();
    const a = await manager.allocateContainer('memory-hog');
    runtime.memoryMB.set('container-1', 480);
    await clock.advance(1000);
    runtime.memoryMB.set('container-1', 120); // the browser's memory goes with the browser
    expect(await (await manager.releaseContainer({ leaseId: a.lease.leaseId, token: a.lease.token })).recycled).toBe('Available');
    expect(resetter.calls).toEqual([]);
    await manager.shutdown();
  });

  it('a container that stops answering health checks is taken out and recovered', async () => {
    const { manager, health, clock, store, eventsNamed } = setup({ containers: 1, health: { healthCheckIntervalMs: 1000, unhealthyThreshold: 2 } });
    await manager.initialize();
    health.notReady.set('container-1', 'mcp');
    await clock.advance(2000);
    expect(eventsNamed('containerUnhealthy')[0]).toMatchObject({ containerId: 'container-1', reason: expect.stringContaining("failed health stage 'mcp'") });
    // Still failing during the first recovery: the container is recreated, fails its gate, waits for the next try.
    expect(await states(store)).toEqual(['Unhealthy']);
    health.notReady.delete('container-1');
    await clock.advance(1000);
    expect(eventsNamed('containerRecovered').length).toBe(1);
    expect(await states(store)).toEqual(['Available']);
    await manager.shutdown();
  });
});

describe('ContainerPoolManager degradation, extensions, config', () => {
  it('degrades under load: LOW refused at once, minimal cleanup; recovers with hysteresis', async () => {
    const { manager, clock, cleaner, eventsNamed } = setup({
      containers: 1,
      resources: { queueSizeThreshold: 2, recoveryHoldMs: 5000 },
      lease: { sweepIntervalMs: 1000, ttlMs: 60_000 },
    });
    await manager.initialize();
    const holder = await manager.allocateContainer('holder');
    const w1 = manager.allocateContainerAdvanced({ testRunId: 'w1', priority: 'normal' });
    const w2 = manager.allocateContainerAdvanced({ testRunId: 'w2', priority: 'high' });
    await clock.advance(1000);
    expect(eventsNamed('degradationStarted')).toMatchObject([{ reasons: ['queueSize'] }]);
    await expect(manager.allocateContainerAdvanced({ testRunId: 'lowly', priority: 'low' })).rejects.toMatchObject({ code: 'POOL_DEGRADED' });
    await (await manager.releaseContainer({ leaseId: holder.lease.leaseId, token: holder.lease.token })).recycled;
    expect(cleaner.calls.at(-1)).toEqual({ containerId: 'container-1', level: 'minimal' });
    const second = await w2;
    await (await manager.releaseContainer({ leaseId: second.lease.leaseId, token: second.lease.token })).recycled;
    const third = await w1;
    await (await manager.releaseContainer({ leaseId: third.lease.leaseId, token: third.lease.token })).recycled;
    await clock.advance(1000);
    expect((await manager.getPoolStatus()).degradation.active).toBe(true); // calm, but not for long enough yet
    await clock.advance(5000);
    expect((await manager.getPoolStatus()).degradation.active).toBe(false);
    await expect(manager.allocateContainerAdvanced({ testRunId: 'lowly-2', priority: 'low' })).resolves.toMatchObject({ lease: { containerId: 'container-1' } });
    const analytics = await manager.getSystemAnalytics();
    expect(analytics.optimizationRecommendations.map((r) => r.rule)).toContain('degraded');
    await manager.shutdown();
  });

  it('grants extensions within limits, checks the lease token, and audits every decision', async () => {
    const { manager } = setup({ containers: 1, timeouts: { maxExtensions: 1, defaultTimeoutMs: 60_000 } });
    await manager.initialize();
    const a = await manager.allocateContainer('slow-test');
    const lease = { leaseId: a.lease.leaseId, token: a.lease.token };
    await expect(manager.requestTimeoutExtension('slow-test', 'sandbox', { lease: { ...lease, token: 999 } })).rejects.toMatchObject({ code: 'STALE_TOKEN' });
    const first = await manager.requestTimeoutExtension('slow-test', 'payment sandbox is slow', { requestedMs: 30_000, currentTimeoutMs: 60_000, lease });
    expect(first).toMatchObject({ granted: true, timeoutMs: 90_000 });
    const second = await manager.requestTimeoutExtension('slow-test', 'still slow', { requestedMs: 30_000, currentTimeoutMs: 90_000, lease });
    expect(second).toMatchObject({ granted: false });
    const audit = (await manager.getAuditLog()).filter((e) => e.type === 'extension');
    expect(audit.map((e) => e.outcome)).toEqual(['ok', 'refused']);
    const analytics = await manager.getSystemAnalytics();
    expect(analytics.timeoutMetrics).toMatchObject({ extensionsGranted: 1, extensionsDenied: 1 });
    await manager.shutdown();
  });

  it('updates config from partial objects, validated, keeping what is not named', async () => {
    const { manager } = setup({ containers: 1 });
    await manager.initialize();
    const next = manager.updateResourceConfig({ queueSizeThreshold: 3 });
    expect(next).toMatchObject({ queueSizeThreshold: 3, maxWaitTimeMs: 300_000, failureRateThreshold: 0.2 });
    expect(() => manager.updateResourceConfig({ failureRateThreshold: 7 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
    expect(() => manager.updateResourceConfig({ bogus: 1 } as never)).toThrow(/unknown option 'bogus'/);
    expect(manager.resourceSettings().queueSizeThreshold).toBe(3);
    expect(() => manager.updateTimeoutConfig({ defaultTimeoutMs: 700_000 })).toThrow(/defaultTimeoutMs must not exceed maxTimeoutMs/);
    expect(manager.updateTimeoutConfig({ maxExtensions: 5 })).toMatchObject({ maxExtensions: 5, defaultTimeoutMs: 120_000 });
    await manager.shutdown();
  });
});

describe('ContainerPoolManager fencing at the member', () => {
  it('initialize fences each member after its health gate and before it is Available, at the first token', async () => {
    const pool = setup();
    const trail = trace(pool);
    await pool.manager.initialize();
    for (const id of ['container-1', 'container-2']) {
      expect(trail.filter((t) => t.includes(`${id} `) || t.endsWith(id))).toEqual([`gate ${id}`, `fence ${id} 1`, `${id} Starting>Available`]);
    }
    expect(pool.fence.calls).toEqual(expect.arrayContaining([{ containerId: 'container-1', port: 3001, floor: 1 }, { containerId: 'container-2', port: 3002, floor: 1 }]));
    // With the pool's own credential for that member: the guard admits it whoever holds the member.
    const credential = pool.fence.credentials.get('container-1')!;
    expect(atGuard(pool.credentials, 'container-1', null, credential)).toMatchObject({ admit: true, claims: { m: 'container-1', r: 'pool' } });
    expect(atGuard(pool.credentials, 'container-2', null, credential)).toMatchObject({ admit: false });
    await pool.manager.shutdown();
  });

  it("a member that cannot be fenced at start fails initialize, naming it; nothing is left running", async () => {
    const pool = setup();
    pool.fence.failFor('container-2');
    await expect(pool.manager.initialize()).rejects.toMatchObject({ code: 'RUNTIME_ERROR', data: { containerId: 'container-2', operation: 'fence' } });
    expect(pool.runtime.running.size).toBe(0);
  });

  it('each allocation carries a lease credential for its container, lease id and token; the guard admits it at that floor only', async () => {
    const { manager, credentials } = setup();
    await manager.initialize();
    const a = await manager.allocateContainer('first');
    const b = await manager.allocateContainer('second');
    for (const held of [a, b]) {
      const decision = atGuard(credentials, held.container.id, held.lease.token, held.credential);
      expect(decision).toEqual({ admit: true, claims: { m: held.container.id, r: 'lease', l: held.lease.leaseId, t: held.lease.token }, floor: held.lease.token });
      expect(atGuard(credentials, held.container.id, held.lease.token + 1, held.credential)).toMatchObject({ admit: false, ended: true });
    }
    expect(a.container.id).not.toBe(b.container.id);
    expect(atGuard(credentials, b.container.id, null, a.credential)).toMatchObject({ admit: false });
    await manager.shutdown();
  });

  it('release: the member is fenced at the next token, above the released lease, before cleanup; the next holder passes that floor', async () => {
    const pool = setup({ containers: 1 });
    await pool.manager.initialize();
    const trail = trace(pool);
    const a = await pool.manager.allocateContainer('t');
    expect(pool.fence.calls).toHaveLength(1); // the start's only: a grant needs no fence
    await (await pool.manager.releaseContainer({ leaseId: a.lease.leaseId, token: a.lease.token })).recycled;
    const floor = a.lease.token + 1;
    expect(await pool.store.nextToken()).toBe(floor);
    expect(trail).toEqual([`fence container-1 ${floor}`, 'cleanup container-1', 'container-1 Cleaning>Available']);
    expect(atGuard(pool.credentials, 'container-1', pool.fence.floors.get('container-1')!, a.credential)).toMatchObject({ admit: false, ended: true });
    const next = await pool.manager.allocateContainer('next');
    expect(next.lease.token).toBe(floor);
    expect(atGuard(pool.credentials, 'container-1', pool.fence.floors.get('container-1')!, next.credential)).toMatchObject({ admit: true });
    await pool.manager.shutdown();
  });

  it('expiry: the expired lease is fenced out above its token before cleanup', async () => {
    const pool = setup({ containers: 1, lease: { ttlMs: 2000, sweepIntervalMs: 500 } });
    await pool.manager.initialize();
    const trail = trace(pool);
    const lost = await pool.manager.allocateContainer('crashed-worker');
    await pool.clock.advance(2500);
    expect(pool.eventsNamed('leaseExpired').map((e) => e.lease.leaseId)).toEqual([lost.lease.leaseId]);
    expect(trail.slice(0, 3)).toEqual([`fence container-1 ${lost.lease.token + 1}`, 'cleanup container-1', 'container-1 Cleaning>Available']);
    await pool.manager.shutdown();
  });

  it('revocation: the dead member is fenced above the revoked token before its reset, and again before it is Available', async () => {
    const pool = setup({ containers: 1 });
    await pool.manager.initialize();
    const trail = trace(pool);
    const a = await pool.manager.allocateContainer('victim');
    pool.runtime.kill('container-1');
    await flushMicrotasks();
    await flushMicrotasks();
    expect(pool.eventsNamed('containerRecovered')).toHaveLength(1);
    const fenced = `fence container-1 ${a.lease.token + 1}`;
    // The fake reset does not bring a dead container back, so the gate fails and it is recreated.
    expect(trail).toEqual([
      'container-1 Allocated>Unhealthy',
      fenced,
      'container-1 Unhealthy>Resetting',
      'reset container-1 hard',
      'gate container-1',
      'container-1 Resetting>Starting',
      'recreate container-1',
      'gate container-1',
      fenced,
      'container-1 Starting>Available',
    ]);
    await pool.manager.shutdown();
  });

  it('a fence that fails during recycle still cleans, then restarts the member (hard), or on a second failure recreates it; never to Available unfenced', async () => {
    const cases: Array<{ failures: number; after: string[] }> = [
      { failures: 1, after: ['container-1 Resetting>Available'] },
      { failures: 2, after: ['container-1 Resetting>Starting', 'recreate container-1', 'gate container-1', 'fence FLOOR', 'container-1 Starting>Available'] },
    ];
    for (const { failures, after } of cases) {
      const pool = setup({ containers: 1 });
      await pool.manager.initialize();
      const trail = trace(pool);
      const a = await pool.manager.allocateContainer('t');
      pool.fence.failFor('container-1', failures);
      expect(await (await pool.manager.releaseContainer({ leaseId: a.lease.leaseId, token: a.lease.token })).recycled).toBe('Available');
      const fenced = `fence container-1 ${a.lease.token + 1}`;
      expect(trail).toEqual([fenced, 'cleanup container-1', 'container-1 Cleaning>Resetting', 'reset container-1 hard', 'gate container-1', fenced, ...after.map((t) => t.replace('fence FLOOR', fenced))]);
      expect(pool.cleaner.calls).toHaveLength(1); // the last holder's files are removed all the same
      expect(pool.eventsNamed('backgroundError')[0]).toMatchObject({ error: { code: 'RUNTIME_ERROR' } });
      await pool.manager.shutdown();
    }
  });

  it("a holder's reset fences the member at the holder's own token (a restarted guard opens to it again, not to older ones)", async () => {
    const pool = setup({ containers: 1 });
    await pool.manager.initialize();
    const first = await pool.manager.allocateContainer('first');
    await (await pool.manager.releaseContainer({ leaseId: first.lease.leaseId, token: first.lease.token })).recycled;
    const held = await pool.manager.allocateContainer('holder');
    const trail = trace(pool);
    await pool.manager.resetLeased({ leaseId: held.lease.leaseId, token: held.lease.token }, 'hard');
    expect(trail).toEqual(['reset container-1 hard', `fence container-1 ${held.lease.token}`]);
    expect(atGuard(pool.credentials, 'container-1', pool.fence.floors.get('container-1')!, held.credential)).toMatchObject({ admit: true });
    expect(atGuard(pool.credentials, 'container-1', pool.fence.floors.get('container-1')!, first.credential)).toMatchObject({ admit: false, ended: true });
    await pool.manager.shutdown();
  });

  it("a holder's reset whose guard cannot be reopened ends the lease as a failure (revoked), not silently unusable", async () => {
    const pool = setup({ containers: 1 });
    await pool.manager.initialize();
    const held = await pool.manager.allocateContainer('holder');
    pool.fence.failFor('container-1', 1);
    await expect(pool.manager.resetLeased({ leaseId: held.lease.leaseId, token: held.lease.token }, 'hard')).rejects.toMatchObject({ code: 'RUNTIME_ERROR' });
    expect(pool.eventsNamed('leaseRevoked')).toHaveLength(1);
    expect(pool.eventsNamed('leaseRevoked')[0]).toMatchObject({ lease: { leaseId: held.lease.leaseId } });
    await pool.manager.shutdown();
  });

  it('the reset on allocation fences at the new holder\'s token before the allocation is handed over', async () => {
    const pool = setup({ containers: 1, cleanup: { resetOnAllocation: 'soft' } });
    await pool.manager.initialize();
    const trail = trace(pool);
    const a = await pool.manager.allocateContainer('t');
    expect(trail).toEqual(['reset container-1 soft', `fence container-1 ${a.lease.token}`]);
    await pool.manager.shutdown();
  });
});
