import { createRequire } from 'node:module';
import type { Counter, Registry } from 'prom-client';
import { CONTAINER_STATES } from '../domain/container-state.js';
import { TEST_PRIORITIES } from '../domain/priority.js';
import type { ContainerPoolManager } from '../pool/container-pool-manager.js';

const load = createRequire(import.meta.url);

/** Waits in seconds: from instant hand-over to the default 5-minute queue limit. */
const WAIT_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * Prometheus metrics of one pool, in a Registry of its own: the global registry is shared by everything in
 * the process (and by every coordinator a test starts), so mixing ours into it would double-register.
 * Gauges read the pool's occupancy at scrape time; counters and the histogram follow the manager's events.
 */
export class PoolMetrics {
  readonly registry: Registry;
  private readonly allocationFailures: Counter<'code'>;
  private readonly detach: () => void;

  constructor(manager: ContainerPoolManager) {
    // prom-client is loaded with the first coordinator, not with the package: Playwright workers load the
    // package with the config and never serve metrics.
    const { Counter, Gauge, Histogram, Registry } = load('prom-client') as typeof import('prom-client');
    this.registry = new Registry();
    const registers = [this.registry];
    new Gauge({
      name: 'cinnamon_pool_containers',
      help: 'Pool containers by lifecycle state.',
      labelNames: ['state'] as const,
      registers,
      async collect() {
        const containers = (await manager.occupancy().catch(() => undefined))?.containers;
        if (!containers) return;
        for (const state of CONTAINER_STATES) this.set({ state }, containers.filter((c) => c.state === state).length);
      },
    });
    new Gauge({
      name: 'cinnamon_pool_queue_size',
      help: 'Allocation requests waiting, by priority.',
      labelNames: ['priority'] as const,
      registers,
      async collect() {
        const queue = (await manager.occupancy().catch(() => undefined))?.queue;
        if (!queue) return;
        for (const priority of TEST_PRIORITIES) this.set({ priority }, queue.filter((q) => q.priority === priority).length);
      },
    });
    const allocations = new Counter({ name: 'cinnamon_pool_allocations_total', help: 'Containers handed out, by priority.', labelNames: ['priority'] as const, registers });
    const releases = new Counter({ name: 'cinnamon_pool_releases_total', help: 'Leases ended by their holder.', registers });
    this.allocationFailures = new Counter({
      name: 'cinnamon_pool_allocation_failures_total',
      help: 'Allocation requests that failed, by error code.',
      labelNames: ['code'] as const,
      registers,
    });
    const wait = new Histogram({
      name: 'cinnamon_pool_allocation_wait_seconds',
      help: 'Time from allocation request to grant, by priority.',
      labelNames: ['priority'] as const,
      buckets: WAIT_BUCKETS,
      registers,
    });
    const expirations = new Counter({ name: 'cinnamon_pool_lease_expirations_total', help: 'Leases that expired without a heartbeat.', registers });
    const revocations = new Counter({ name: 'cinnamon_pool_lease_revocations_total', help: 'Leases ended because their container failed.', registers });
    const extensions = new Counter({
      name: 'cinnamon_pool_timeout_extensions_total',
      help: 'Timeout extension requests, by outcome.',
      labelNames: ['outcome'] as const,
      registers,
    });
    // Start every labelled series at zero so dashboards see the series before the first event.
    for (const priority of TEST_PRIORITIES) allocations.inc({ priority }, 0);
    for (const outcome of ['granted', 'denied'] as const) extensions.inc({ outcome }, 0);

    const onAllocated = ({ lease, waitMs }: { lease: { priority: (typeof TEST_PRIORITIES)[number] }; waitMs: number }) => {
      allocations.inc({ priority: lease.priority });
      wait.observe({ priority: lease.priority }, waitMs / 1000);
    };
    const onReleased = () => releases.inc();
    const onExpired = () => expirations.inc();
    const onRevoked = () => revocations.inc();
    const onExtension = ({ decision }: { decision: { granted: boolean } }) => extensions.inc({ outcome: decision.granted ? 'granted' : 'denied' });
    manager.on('containerAllocated', onAllocated);
    manager.on('containerReleased', onReleased);
    manager.on('leaseExpired', onExpired);
    manager.on('leaseRevoked', onRevoked);
    manager.on('extensionDecided', onExtension);
    this.detach = () => {
      manager.off('containerAllocated', onAllocated);
      manager.off('containerReleased', onReleased);
      manager.off('leaseExpired', onExpired);
      manager.off('leaseRevoked', onRevoked);
      manager.off('extensionDecided', onExtension);
    };
  }

  /** The manager emits no event for a failed allocation; the coordinator, which sees every one, counts it. */
  countAllocationFailure(code: string): void {
    this.allocationFailures.inc({ code });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    this.detach();
    this.registry.clear();
  }
}
