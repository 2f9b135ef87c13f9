import { Mutex } from 'async-mutex';
import type { ContainerSpec } from '../config/pool-config.js';
import type { ContainerState } from '../domain/container-state.js';
import { PoolError } from '../errors/pool-error.js';
import { planDispatch, withoutDefaultTenant } from './dispatch-plan.js';
import { largestLimits, limitsSatisfy } from './lease-rules.js';
import { MemoryLeaseBook } from './memory-leases.js';
import { copyRequest, MemoryRequestQueue } from './memory-queue.js';
import { MemoryRunRecords } from './memory-run-records.js';
import type {
  AuditEvent,
  CancelResult,
  ContainerRecord,
  CounterName,
  EndedLease,
  EnqueueResult,
  Grant,
  Lease,
  LeaseEndReason,
  NewRequest,
  PoolStore,
  QueuedRequest,
  ResourceUsage,
  StoreCounters,
} from './pool-store.js';
import { parseMemoryStoreOptions, type MemoryStoreOptions } from './store-options.js';
import { refusalError } from './store-refusals.js';

export type { MemoryStoreOptions } from './store-options.js';

/**
 * The embedded store: pool state in this process. Each method runs under one mutex, so every call is atomic
 * against every other, like one Lua script in the Redis store. Containers and the dispatch pass live here; the
 * queue, the leases and the run's records are kept by the three collaborators below.
 */
export class MemoryPoolStore implements PoolStore {
  readonly kind = 'memory' as const;
  private readonly mutex = new Mutex();
  private readonly containers = new Map<string, ContainerRecord>();
  private readonly queue = new MemoryRequestQueue();
  private readonly leases: MemoryLeaseBook;
  private readonly records: MemoryRunRecords;
  private closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    const config = parseMemoryStoreOptions(options);
    this.leases = new MemoryLeaseBook(config.endedLeaseLimit);
    this.records = new MemoryRunRecords(config.auditLimit);
  }

  // ---- containers ----

  registerContainers(specs: readonly ContainerSpec[], now: number): Promise<ContainerRecord[]> {
    return this.exclusive(() => {
      for (const spec of specs) {
        const previous = this.containers.get(spec.id);
        if (previous?.leaseId) this.endLease(previous.leaseId, 'revoked', now);
        this.containers.set(spec.id, {
          id: spec.id,
          name: spec.name,
          port: spec.port,
          state: 'Starting',
          stateChangedAt: now,
          limits: { memoryMB: spec.memoryMB, cpuPercent: spec.cpuPercent },
          consecutiveFailures: 0,
        });
      }
      return specs.map((s) => copyContainer(this.mustContainer(s.id)));
    });
  }

  listContainers(): Promise<ContainerRecord[]> {
    return this.read(() => [...this.containers.values()].map(copyContainer));
  }

  getContainer(id: string): Promise<ContainerRecord> {
    return this.read(() => copyContainer(this.mustContainer(id)));
  }

  transition(id: string, from: ContainerState, to: ContainerState, now: number, error?: string): Promise<ContainerRecord> {
    return this.exclusive(() => {
      const container = this.mustContainer(id);
      const move = { containerId: id, from, to, actual: container.state };
      if (from === 'Allocated' || to === 'Allocated') throw refusalError({ kind: 'ALLOCATED_BY_LEASE_ONLY', ...move });
      if (container.state !== from) throw refusalError({ kind: 'INVALID_TRANSITION', ...move });
      setState(container, to, now, error);
      return copyContainer(container);
    });
  }

  recordUsage(id: string, usage: ResourceUsage): Promise<void> {
    return this.exclusive(() => {
      this.mustContainer(id).usage = { ...usage };
    });
  }

  // ---- queue and leases ----

  enqueue(request: NewRequest, now: number, ttlMs: number, maxConcurrent: number): Promise<EnqueueResult> {
    return this.exclusive(() => {
      if (this.queue.has(request.requestId) || this.leases.isGranted(request.requestId)) {
        throw refusalError({ kind: 'DUPLICATE_REQUEST', requestId: request.requestId });
      }
      const active = this.queue.size + this.leases.size;
      if (active >= maxConcurrent) throw refusalError({ kind: 'CONCURRENCY_LIMIT', active, maxConcurrent, testRunId: request.testRunId });
      const containers = [...this.containers.values()];
      if (!containers.some((c) => limitsSatisfy(c, request.requirements))) {
        throw refusalError({ kind: 'UNSATISFIABLE_REQUEST', requirements: request.requirements, largestLimits: largestLimits(containers) });
      }
      const queued = this.queue.add(withoutDefaultTenant(request), now);
      return { queued: copyRequest(queued), grants: this.dispatchNow(now, ttlMs) };
    });
  }

  dispatch(now: number, ttlMs: number): Promise<Grant[]> {
    return this.exclusive(() => this.dispatchNow(now, ttlMs));
  }

  grantsFor(requestIds: readonly string[]): Promise<Grant[]> {
    return this.read(() => {
      const grants: Grant[] = [];
      for (const requestId of new Set(requestIds)) {
        const lease = this.leases.grantedLease(requestId);
        const request = this.leases.grantedRequest(requestId);
        if (lease && request) grants.push({ request: copyRequest(request), lease: { ...lease } });
      }
      return grants;
    });
  }

  cancel(requestId: string): Promise<CancelResult> {
    return this.exclusive((): CancelResult => {
      const request = this.queue.remove(requestId);
      if (request) return { status: 'cancelled', request: copyRequest(request) };
      const lease = this.leases.grantedLease(requestId);
      return lease ? { status: 'granted', lease: { ...lease } } : { status: 'unknown' };
    });
  }

  renew(leaseId: string, token: number, now: number, ttlMs: number): Promise<Lease> {
    return this.exclusive(() => {
      const lease = this.leases.holding(leaseId, token, now, 'renew');
      lease.expiresAt = now + ttlMs;
      lease.ttlMs = ttlMs;
      return { ...lease };
    });
  }

  release(leaseId: string, token: number, now: number): Promise<Lease> {
    return this.exclusive(() => {
      const lease = this.leases.holding(leaseId, token, now, 'release');
      this.endLease(leaseId, 'released', now);
      setState(this.mustContainer(lease.containerId), 'Cleaning', now);
      this.records.count('releases');
      return { ...lease };
    });
  }

  revoke(containerId: string, now: number, error: string): Promise<Lease | undefined> {
    return this.exclusive(() => {
      const container = this.mustContainer(containerId);
      if (container.state !== 'Allocated' && container.state !== 'Available') {
        throw refusalError({ kind: 'REVOKE_INVALID_STATE', containerId, actual: container.state });
      }
      const lease = container.leaseId ? this.endLease(container.leaseId, 'revoked', now) : undefined;
      if (lease) this.records.count('revocations');
      setState(container, 'Unhealthy', now, error);
      return lease ? { ...lease } : undefined;
    });
  }

  reclaimExpired(now: number): Promise<Lease[]> {
    return this.exclusive(() => {
      const expired = this.leases.list().filter((l) => l.expiresAt <= now);
      for (const lease of expired) {
        this.endLease(lease.leaseId, 'expired', now);
        setState(this.mustContainer(lease.containerId), 'Cleaning', now);
        this.records.count('expirations');
      }
      return expired.map((l) => ({ ...l }));
    });
  }

  listLeases(): Promise<Lease[]> {
    return this.read(() => this.leases.list().map((l) => ({ ...l })));
  }

  nextToken(): Promise<number> {
    return this.read(() => this.leases.nextToken);
  }

  getLease(leaseId: string): Promise<Lease> {
    return this.read(() => ({ ...this.leases.mustGet(leaseId, 'lookup') }));
  }

  getEndedLease(leaseId: string): Promise<EndedLease | undefined> {
    return this.read(() => this.leases.endedLease(leaseId));
  }

  listQueue(): Promise<QueuedRequest[]> {
    return this.read(() => this.queue.list());
  }

  // ---- history, extensions, counters, audit ----

  appendExecution(testId: string, durationMs: number, limit: number): Promise<void> {
    return this.exclusive(() => this.records.appendExecution(testId, durationMs, limit));
  }

  getExecutions(testId?: string): Promise<number[]> {
    return this.read(() => this.records.getExecutions(testId));
  }

  claimExtension(testRunId: string, max: number): Promise<number> {
    return this.exclusive(() => this.records.claimExtension(testRunId, max));
  }

  getExtensionCount(testRunId: string): Promise<number> {
    return this.read(() => this.records.getExtensionCount(testRunId));
  }

  incrementCounter(name: CounterName, by = 1): Promise<void> {
    return this.exclusive(() => this.records.count(name, by));
  }

  getCounters(): Promise<StoreCounters> {
    return this.read(() => this.records.getCounters());
  }

  appendAudit(events: readonly AuditEvent[]): Promise<void> {
    return this.exclusive(() => this.records.appendAudit(events));
  }

  listAudit(): Promise<AuditEvent[]> {
    return this.read(() => this.records.listAudit());
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  // ---- internals (called with the mutex held) ----

  /** The dispatch pass (PoolStore.dispatch): planDispatch chooses; the Lua twin is in lua/includes/dispatch.lua. */
  private dispatchNow(now: number, ttlMs: number): Grant[] {
    const available = [...this.containers.values()].filter((c) => c.state === 'Available');
    if (available.length === 0 || this.queue.size === 0) return [];
    const planned = planDispatch(this.queue.inServiceOrder(), available, this.leases.activeByTenant(), now);
    const grants = planned.map(({ request, container }): Grant => {
      const lease = this.leases.grant(request, container.id, now, ttlMs);
      container.leaseId = lease.leaseId;
      setState(container, 'Allocated', now);
      if (request.tenant !== undefined) container.tenant = request.tenant;
      this.records.count('allocations');
      return { request: copyRequest(request), lease: { ...lease } };
    });
    this.queue.removeAll(new Set(planned.map((g) => g.request.requestId)));
    return grants;
  }

  /** Ends the lease and frees the container it names (if that container still holds it). */
  private endLease(leaseId: string, reason: LeaseEndReason, now: number, error?: string): Lease | undefined {
    const lease = this.leases.end(leaseId, reason, now, error);
    const container = lease ? this.containers.get(lease.containerId) : undefined;
    if (container?.leaseId === leaseId) delete container.leaseId;
    return lease;
  }

  private mustContainer(id: string): ContainerRecord {
    const container = this.containers.get(id);
    if (!container) throw refusalError({ kind: 'UNKNOWN_CONTAINER', containerId: id });
    return container;
  }

  private exclusive<T>(fn: () => T): Promise<T> {
    return this.mutex.runExclusive(() => {
      this.assertOpen();
      return fn();
    });
  }

  private read<T>(fn: () => T): Promise<T> {
    // Reads are single synchronous steps, so they cannot observe a half-done change; no need to queue them.
    try {
      this.assertOpen();
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new PoolError('STORE_UNAVAILABLE', 'The in-memory pool store was closed; the pool has shut down.');
  }
}

/** Container state change with the store's bookkeeping (the Lua twin is setState in lua/includes/common.lua). */
function setState(container: ContainerRecord, to: ContainerState, now: number, error?: string): void {
  container.state = to;
  container.stateChangedAt = now;
  if (to !== 'Allocated') delete container.tenant;
  if (to === 'Available') container.consecutiveFailures = 0;
  if (error !== undefined) {
    container.lastError = error;
    container.consecutiveFailures++;
  }
}

function copyContainer(c: ContainerRecord): ContainerRecord {
  return { ...c, limits: { ...c.limits }, ...(c.usage ? { usage: { ...c.usage } } : {}) };
}
