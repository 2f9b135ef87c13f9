import { afterEach, describe, expect, it } from 'vitest';
import { FakeCleaner, FakeFence, FakeHealthGate, FakeResetter, FakeRuntime } from '../../test/support/fakes.js';
import { parsePoolOptions } from '../config/pool-config.js';
import { startCoordinator } from '../coordinator/coordinator-server.js';
import { ContainerPoolManager } from '../pool/container-pool-manager.js';
import { MemoryPoolStore } from '../store/memory-store.js';
import { coordinatorSource } from './analytics-source.js';
import { renderHtmlReport } from './html-report.js';

/*
 * The reporter against the real coordinator (ContainerPoolManager over the in-memory fakes): the routes, the
 * token and the body shapes it reads are the coordinator's, so a change on either side shows up here.
 */

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function runningPool() {
  const runtime = new FakeRuntime();
  const manager = new ContainerPoolManager({
    config: parsePoolOptions({ containers: 2 }),
    store: new MemoryPoolStore(),
    runtime,
    health: new FakeHealthGate(runtime),
    cleaner: new FakeCleaner(),
    resetter: new FakeResetter(),
    fence: new FakeFence().fence,
    runId: 'reporter-contract',
  });
  await manager.initialize();
  const coordinator = await startCoordinator({ manager, runtime: 'process' });
  cleanups.push(() => manager.shutdown(), () => coordinator.close());
  return { manager, coordinator };
}

describe('coordinatorSource against the real coordinator', () => {
  it('reads live analytics and audit, and the frozen final snapshot after the pool stopped', async () => {
    const { manager, coordinator } = await runningPool();
    for (const run of ['worker-0:a', 'worker-1:<b>']) {
      const allocation = await manager.allocateContainer(run);
      await manager.releaseContainer({ leaseId: allocation.lease.leaseId, token: allocation.lease.token });
    }
    const source = coordinatorSource({ url: coordinator.url, token: coordinator.token });

    const live = await source.load();
    expect(live?.analytics.poolMetrics.totalAllocations).toBe(2);
    expect(live?.analytics.allocations.map((a) => a.testRunId)).toEqual(['worker-0:a', 'worker-1:<b>']);
    expect(live?.audit.some((e) => e.type === 'allocated')).toBe(true);
    expect(renderHtmlReport({ analytics: live!.analytics, audit: live!.audit })).toContain('worker-1:&lt;b&gt;');

    const final = { status: await manager.getPoolStatus(), analytics: await manager.getSystemAnalytics(), audit: await manager.getAuditLog() };
    coordinator.freeze(final);
    expect((await source.load())?.analytics).toEqual(final.analytics);

    await expect(coordinatorSource({ url: coordinator.url, token: 'not-the-token' }).load()).rejects.toThrow(/401/);
  });
});
