import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { parsePoolOptions } from '../config/pool-config.js';
import { MemoryPoolStore } from '../store/memory-store.js';
import type { ContainerRecord } from '../store/pool-store.js';
import { FakeCleaner, FakeHealthGate, FakeResetter, FakeRuntime } from '../../test/support/fakes.js';
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

async function setup() {
  const clock = new FakeClock();
  const config = parsePoolOptions({ containers: 1 });
  const store = new GrantAfterRead();
  const runtime = new FakeRuntime();
  const resetter = new FakeResetter();
  const cleaner = new FakeCleaner();
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
    cleanupLevel: () => 'full',
    active: () => true,
    onAvailable: () => {},
    emit: () => {},
    report: (error) => {
      throw error;
    },
    logger: SILENT_LOGGER,
  });
  return { store, runtime, resetter, cleaner, recycler };
}

describe('Recycler.restartWhenIdle', () => {
  it('a lease granted between the Available read and the reset: no reset under the holder; the restart waits for the release', async () => {
    const { store, runtime, resetter, recycler } = await setup();
    runtime.memoryMB.set('container-1', 10_000);
    store.armed = true;
    await recycler.restartWhenIdle('container-1');
    expect(resetter.calls).toEqual([]);
    const held = await store.getContainer('container-1');
    expect(held.state).toBe('Allocated');

    await store.release(held.leaseId!, (await store.getLease(held.leaseId!)).token, Date.UTC(2026, 0, 1));
    expect(await recycler.recycle('container-1')).toBe('Available');
    expect(resetter.calls).toEqual([{ containerId: 'container-1', strategy: 'hard' }]);
  });

  it('an idle container is taken out of Available and restarted (hard)', async () => {
    const { store, resetter, recycler } = await setup();
    await recycler.restartWhenIdle('container-1');
    expect(resetter.calls).toEqual([{ containerId: 'container-1', strategy: 'hard' }]);
    expect((await store.getContainer('container-1')).state).toBe('Available');
  });
});
