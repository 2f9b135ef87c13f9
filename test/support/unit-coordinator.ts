import { parsePoolOptions } from '../../src/config/pool-config.js';
import type { PoolOptionsInput } from '../../src/config/schemas.js';
import { startCoordinator, type RunningCoordinator } from '../../src/coordinator/coordinator-server.js';
import { PoolClient } from '../../src/protocol/pool-client.js';
import { ContainerPoolManager } from '../../src/pool/container-pool-manager.js';
import { MemoryPoolStore } from '../../src/store/memory-store.js';
import { FakeCleaner, FakeFence, FakeHealthGate, FakeResetter, FakeRuntime } from './fakes.js';

export interface UnitCoordinator {
  store: MemoryPoolStore;
  runtime: FakeRuntime;
  /** Stands in for the member's guard (the default fence is HTTP to a guard; nothing listens here). */
  fence: FakeFence;
  manager: ContainerPoolManager;
  coordinator: RunningCoordinator;
  /** A new client of the coordinator; closed by close(). */
  newClient(): PoolClient;
  /** Closes the clients, the coordinator and the pool. */
  close(): Promise<void>;
}

/**
 * A coordinator over a one-container pool with fake runtime, health, cleanup and reset, in the memory store:
 * the HTTP path and the pool's rules are real, nothing else is. `options` override the defaults (containers 1,
 * lease TTL 2 s swept every 100 ms).
 */
export async function startUnitCoordinator(options: PoolOptionsInput = {}): Promise<UnitCoordinator> {
  const store = new MemoryPoolStore();
  const runtime = new FakeRuntime();
  const fence = new FakeFence();
  const manager = new ContainerPoolManager({
    config: parsePoolOptions({ containers: 1, lease: { ttlMs: 2_000, sweepIntervalMs: 100 }, ...options }),
    store,
    runtime,
    health: new FakeHealthGate(runtime),
    cleaner: new FakeCleaner(),
    resetter: new FakeResetter(),
    fence: fence.fence,
    runId: 'unit',
  });
  await manager.initialize();
  const coordinator = await startCoordinator({ manager, runtime: 'process' });
  const clients: PoolClient[] = [];
  return {
    store,
    runtime,
    fence,
    manager,
    coordinator,
    newClient: () => {
      const client = new PoolClient({ url: coordinator.url, token: coordinator.token });
      clients.push(client);
      return client;
    },
    close: async () => {
      for (const client of clients) client.close();
      await coordinator.close();
      await manager.shutdown();
    },
  };
}
