import { randomBytes } from 'node:crypto';
import { SystemClock, type Clock } from '../../../src/clock/clock.js';
import { parsePoolOptions } from '../../../src/config/pool-config.js';
import type { PoolOptionsInput } from '../../../src/config/schemas.js';
import { ContainerPoolManager } from '../../../src/pool/container-pool-manager.js';
import type { PoolStore } from '../../../src/store/pool-store.js';
import { FakeCleaner, FakeFence, FakeHealthGate, FakeResetter, FakeRuntime } from '../../support/fakes.js';
import { freePorts } from '../../support/ports.js';

/** A pool id no other scenario (or a leftover of an earlier run) uses. */
export function uniquePoolId(label: string): string {
  return `faults-${label}-${randomBytes(3).toString('hex')}`;
}

export interface FakePool {
  manager: ContainerPoolManager;
  runtime: FakeRuntime;
  cleaner: FakeCleaner;
  resetter: FakeResetter;
  /** Stands in for the members' guards (the default fence is HTTP to a guard; nothing listens here). */
  fence: FakeFence;
  poolId: string;
  /** The pool's store, for tests that look under the manager (it keeps its store private). */
  store: PoolStore;
}

/**
 * A real ContainerPoolManager over fake containers: for the scenarios about scheduling, leases and the
 * store, where starting Chromium would only add minutes and noise. Ports are free ones all the same, so
 * that nothing here can collide with a real pool on the default ports.
 */
export async function startFakePool(options: { store: PoolStore; containers: number; label: string; clock?: Clock } & PoolOptionsInput): Promise<FakePool> {
  const { store, containers, label, clock = new SystemClock(), ...poolOptions } = options;
  const poolId = uniquePoolId(label);
  const ports = await freePorts(containers);
  const config = parsePoolOptions({
    ...poolOptions,
    poolId,
    containerSpecs: ports.map((port, i) => ({ id: `container-${i + 1}`, name: `${poolId}-${i + 1}`, port })),
  });
  const runtime = new FakeRuntime();
  const cleaner = new FakeCleaner();
  const resetter = new FakeResetter();
  const fence = new FakeFence();
  const manager = new ContainerPoolManager({ config, store, runtime, health: new FakeHealthGate(runtime), cleaner, resetter, clock, fence: fence.fence });
  await manager.initialize();
  return { manager, runtime, cleaner, resetter, fence, poolId, store };
}

/** Everything a refused call must leave as it was (the audit trail is compared separately: refusals may log). */
export async function snapshotStore(store: PoolStore, testRunIds: readonly string[] = []) {
  const [containers, leases, queue, counters, executions] = await Promise.all([
    store.listContainers(),
    store.listLeases(),
    store.listQueue(),
    store.getCounters(),
    store.getExecutions(),
  ]);
  const extensions = await Promise.all(testRunIds.map(async (id) => [id, await store.getExtensionCount(id)] as const));
  return { containers, leases, queue, counters, executions, extensions };
}

/** Polls until `condition` holds; the bound only keeps a broken run from hanging, it is not the criterion. */
export async function until(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 20_000, stepMs = 20): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
