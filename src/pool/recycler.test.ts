import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { parsePoolOptions } from '../config/pool-config.js';
import { MemoryPoolStore } from '../store/memory-store.js';
import type { ContainerState } from '../domain/container-state.js';
import type { ContainerRecord } from '../store/pool-store.js';
import { credentialDecision } from '../runtime/mcp-guard.js';
import { MemberCredentials } from '../runtime/member-credentials.js';
import { FakeCleaner, FakeFence, FakeHealthGate, FakeResetter, FakeRuntime } from '../../test/support/fakes.js';
import { SILENT_LOGGER } from './pool-events.js';
import { Recycler } from './recycler.js';

/** A store that grants a lease on the container right after the recycler has read it as Available. */
class GrantAfterRead extends MemoryPoolStore {
  armed = false;
  override async getContainer(id: string): Promise<ContainerRecord> {
    const record = await super.getContainer(id);
    if (this.armed && record.state === 'Available') {
      this.armed = false;
      const now = Date.UTC(2026, 0, 1);
      await this.enqueue({ requestId: 'r1', testRunId: 'holder', priority: 'normal', requestedAt: now, deadline: now + 60_000, requirements: {}, attempt: 0 }, now, 60_000, 10);
    }
    return record;
  }
}

/** A store where a waiter is granted the container in the same step that moves it back to Available. */
class GrantOnReturn extends GrantAfterRead {
  grantOnReturn = false;
  override async transition(id: string, from: ContainerState, to: ContainerState, now: number, error?: string): Promise<ContainerRecord> {
    const record = await super.transition(id, from, to, now, error);
    if (this.grantOnReturn && to === 'Available') {
      this.grantOnReturn = false;
      await this.enqueue({ requestId: 'next', testRunId: 'next holder', priority: 'normal', requestedAt: now, deadline: now + 60_000, requirements: {}, attempt: 0 }, now, 60_000, 10);
    }
    return record;
  }
}

async function setup() {
  const clock = new FakeClock();
  const config = parsePoolOptions({ containers: 1 });
  const store = new GrantOnReturn();
  const runtime = new FakeRuntime();
  const resetter = new FakeResetter();
  const cleaner = new FakeCleaner();
  const fence = new FakeFence();
  const credentials = new MemberCredentials();
  for (const spec of config.containerSpecs) await runtime.start(spec);
  await store.registerContainers(config.containerSpecs, clock.now());
  await store.transition('container-1', 'Starting', 'Available', clock.now());
  const recycler = new Recycler({
    config,
    store,
    runtime,
    health: new FakeHealthGate(runtime),
    cleaner,
    resetter,
    clock,
    credentials,
    fence: fence.fence,
    cleanupLevel: () => 'full',
    active: () => true,
    onAvailable: () => {},
    emit: () => {},
    report: (error) => {
      throw error;
    },
    logger: SILENT_LOGGER,
  });
  return { store, runtime, resetter, cleaner, fence, credentials, recycler };
}

describe('Recycler.restartWhenIdle', () => {
  it('a lease granted between the Available read and the reset: no reset under the holder; the restart waits for the release', async () => {
    const { store, runtime, resetter, fence, recycler } = await setup();
    runtime.memoryMB.set('container-1', 10_000);
    store.armed = true;
    await recycler.restartWhenIdle('container-1');
    expect(resetter.calls).toEqual([]);
    const held = await store.getContainer('container-1');
    expect(held.state).toBe('Allocated');

    const { token } = await store.getLease(held.leaseId!);
    expect(fence.calls).toEqual([]); // nothing fenced under the holder
    await store.release(held.leaseId!, token, Date.UTC(2026, 0, 1));
    expect(await recycler.recycle('container-1')).toBe('Available');
    expect(resetter.calls).toEqual([{ containerId: 'container-1', strategy: 'hard' }]);
    // Fenced out at its release (before cleanup), and again after the restart (a new guard admits no lease).
    expect(fence.floorsOf('container-1')).toEqual([token + 1, token + 1]);
  });

  it('an idle container is taken out of Available and restarted (hard)', async () => {
    const { store, resetter, fence, recycler } = await setup();
    await recycler.restartWhenIdle('container-1');
    expect(resetter.calls).toEqual([{ containerId: 'container-1', strategy: 'hard' }]);
    expect(fence.floorsOf('container-1')).toEqual([1]); // the restarted guard is opened at the next token
    expect((await store.getContainer('container-1')).state).toBe('Available');
  });
});

describe('Recycler.recycle', () => {
  it('a second recycle of one release (notice and poll both asked) finds the member granted again: it neither fences nor cleans it', async () => {
    const { store, cleaner, fence, recycler } = await setup();
    store.armed = true;
    await store.getContainer('container-1'); // grants the first lease
    const first = await store.getLease((await store.getContainer('container-1')).leaseId!);
    await store.release(first.leaseId, first.token, Date.UTC(2026, 0, 1));
    store.grantOnReturn = true;
    // Queued together, as the host agent's recycle notice and its poll can ask for the same release.
    const [a, b] = await Promise.all([recycler.recycle('container-1'), recycler.recycle('container-1')]);
    expect([a, b]).toEqual(['Available', 'Allocated']);
    const holder = await store.getLease((await store.getContainer('container-1')).leaseId!);
    expect(holder.testRunId).toBe('next holder');
    // One fence, at the release; a second at the next token would refuse the new holder at the guard.
    expect(fence.floorsOf('container-1')).toEqual([first.token + 1]);
    expect(fence.floorsOf('container-1').every((floor) => floor <= holder.token)).toBe(true);
    expect(cleaner.calls).toHaveLength(1);
  });
});

describe('Recycler.fence', () => {
  it("tells the member's guard, on its port and with the pool's credential for it, the store's next token unless given a floor", async () => {
    const { store, fence, credentials, recycler } = await setup();
    store.armed = true;
    await store.getContainer('container-1'); // grants a lease (token 1)
    expect(await store.nextToken()).toBe(2);
    expect(await recycler.fence('container-1')).toMatchObject({ floor: 2 });
    await recycler.fence('container-1', 1);
    expect(fence.calls).toEqual([
      { containerId: 'container-1', port: 3001, floor: 2 },
      { containerId: 'container-1', port: 3001, floor: 1 },
    ]);
    const sent = fence.credentials.get('container-1')!;
    expect(credentialDecision(credentials.keyOf('container-1'), 'container-1', 2, `Bearer ${sent}`)).toMatchObject({ admit: true, claims: { m: 'container-1', r: 'pool' } });
  });

  it('throws the fence error (RUNTIME_ERROR naming the member) for its caller to act on', async () => {
    const { fence, recycler } = await setup();
    fence.failFor('container-1', 1);
    await expect(recycler.fence('container-1')).rejects.toMatchObject({ code: 'RUNTIME_ERROR', data: { containerId: 'container-1', operation: 'fence' } });
    await expect(recycler.fence('container-1')).resolves.toMatchObject({ floor: 1 });
  });
});
