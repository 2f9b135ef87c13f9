import { randomBytes } from 'node:crypto';
import { SystemClock, type Clock } from '../../../src/clock/clock.js';
import { parsePoolOptions, type PoolConfig } from '../../../src/config/pool-config.js';
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
  const members = { runtime: new FakeRuntime(), cleaner: new FakeCleaner(), resetter: new FakeResetter(), fence: new FakeFence() };
  const manager = fakeMembersManager(config, store, members, clock);
  await manager.initialize();
  return { manager, ...members, poolId, store };
}

/** The fakes a manager's members are made of; coordinators that share one pool's members share these. */
export interface FakeMembers {
  runtime: FakeRuntime;
  fence: FakeFence;
  cleaner?: FakeCleaner;
  resetter?: FakeResetter;
}

/**
 * A ContainerPoolManager (not yet initialized) over fake members. Several coordinators of one shared pool pass
 * the same runtime and fence: one host's members and their guards are the same to all of them.
 */
export function fakeMembersManager(config: PoolConfig, store: PoolStore, members: FakeMembers, clock: Clock = new SystemClock()): ContainerPoolManager {
  const { runtime, fence, cleaner = new FakeCleaner(), resetter = new FakeResetter() } = members;
  return new ContainerPoolManager({ config, store, runtime, health: new FakeHealthGate(runtime), cleaner, resetter, clock, fence: fence.fence });
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
