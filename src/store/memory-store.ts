import { randomUUID } from 'node:crypto';
import { Mutex } from 'async-mutex';
import type { ContainerSpec } from '../config/pool-config.js';
import type { ContainerState } from '../domain/container-state.js';
import { PRIORITY_RANK } from '../domain/priority.js';
import { PoolError } from '../errors/pool-error.js';
import {
  containerSatisfies,
  endedLeaseError,
  limitsSatisfy,
  staleTokenError,
  unknownContainerError,
  unknownLeaseError,
  unsatisfiableError,
} from './lease-rules.js';
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

export interface MemoryStoreOptions {
  /** Audit events kept. @defaultValue 100000 */
  auditLimit?: number;
  /** Ended leases remembered for precise errors. @defaultValue 10000 */
  endedLeaseLimit?: number;
}

const ZERO_COUNTERS: StoreCounters = {
  allocations: 0,
  releases: 0,
  expirations: 0,
  revocations: 0,
  failedAllocations: 0,
  cancelledRequests: 0,
};

/**
 * The embedded store: pool state in this process. Each method runs under one mutex, so every call is atomic
 * against every other, like one Lua script in the Redis store.
 */
export class MemoryPoolStore implements PoolStore {
  readonly kind = 'memory' as const;
  private readonly mutex = new Mutex();
  private readonly containers = new Map<string, ContainerRecord>();
  /** Sorted in service order: priority rank, then seq. */
  private queue: QueuedRequest[] = [];
  private readonly leases = new Map<string, Lease>();
  private readonly ended = new Map<string, EndedLease>();
  private readonly grantedRequests = new Map<string, string>();
  private readonly executions = new Map<string, number[]>();
  private overall: number[] = [];
  private readonly extensions = new Map<string, number>();
  private counters: StoreCounters = { ...ZERO_COUNTERS };
  private audit: AuditEvent[] = [];
  private token = 0;
  private seq = 0;
  private closed = false;
  private readonly auditLimit: number;
  private readonly endedLeaseLimit: number;

  constructor(options: MemoryStoreOptions = {}) {
    this.auditLimit = options.auditLimit ?? 100_000;
    this.endedLeaseLimit = options.endedLeaseLimit ?? 10_000;
  }

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
      if (from === 'Allocated' || to === 'Allocated') {
        throw new PoolError(
          'INVALID_TRANSITION',
          `Container ${id}: ${from} → ${to} is only possible through a lease (allocate, release, expiry, revoke).`,
          { containerId: id, from, to, actual: container.state },
        );
      }
      if (container.state !== from) {
        throw new PoolError(
          'INVALID_TRANSITION',
          `Container ${id} is ${container.state}, not ${from}; ${from} → ${to} refused.`,
          { containerId: id, from, to, actual: container.state },
        );
      }
      setState(container, to, now, error);
      return copyContainer(container);
    });
  }

  recordUsage(id: string, usage: ResourceUsage): Promise<void> {
    return this.exclusive(() => {
      this.mustContainer(id).usage = { ...usage };
    });
  }

  enqueue(request: NewRequest, now: number, ttlMs: number, maxConcurrent: number): Promise<EnqueueResult> {
    return this.exclusive(() => {
      if (this.queue.some((q) => q.requestId === request.requestId) || this.grantedRequests.has(request.requestId)) {
        throw new PoolError('DUPLICATE_REQUEST', `Request ${request.requestId} is already queued or granted.`, {
          requestId: request.requestId,
        });
      }
      const active = this.queue.length + this.leases.size;
      if (active >= maxConcurrent) {
        throw new PoolError(
          'CONCURRENCY_LIMIT',
          `${active} requests are waiting or active, the limit is resources.maxConcurrentAllocations = ${maxConcurrent}; ` +
            `request ${request.testRunId} refused. Raise the limit or run fewer workers.`,
          { active, maxConcurrent, testRunId: request.testRunId },
        );
      }
      const containers = [...this.containers.values()];
      if (!containers.some((c) => limitsSatisfy(c, request.requirements))) {
        throw unsatisfiableError(request.requirements, containers);
      }
      const queued: QueuedRequest = { ...request, requirements: { ...request.requirements }, seq: ++this.seq };
      this.insertQueued(queued);
      return { queued: { ...queued }, grants: this.dispatchNow(now, ttlMs) };
    });
  }

  dispatch(now: number, ttlMs: number): Promise<Grant[]> {
    return this.exclusive(() => this.dispatchNow(now, ttlMs));
  }

  cancel(requestId: string): Promise<CancelResult> {
    return this.exclusive((): CancelResult => {
      const index = this.queue.findIndex((q) => q.requestId === requestId);
      if (index >= 0) {
        const [request] = this.queue.splice(index, 1);
        return { status: 'cancelled', request: { ...request! } };
      }
      const leaseId = this.grantedRequests.get(requestId);
      const lease = leaseId ? this.leases.get(leaseId) : undefined;
      return lease ? { status: 'granted', lease: { ...lease } } : { status: 'unknown' };
    });
  }

  renew(leaseId: string, token: number, now: number, ttlMs: number): Promise<Lease> {
    return this.exclusive(() => {
      const lease = this.activeLease(leaseId, token, now, 'renew');
      lease.expiresAt = now + ttlMs;
      lease.ttlMs = ttlMs;
      return { ...lease };
    });
  }

  release(leaseId: string, token: number, now: number): Promise<Lease> {
    return this.exclusive(() => {
      const lease = this.activeLease(leaseId, token, now, 'release');
      this.endLease(leaseId, 'released', now);
      setState(this.mustContainer(lease.containerId), 'Cleaning', now);
      this.counters.releases++;
      return { ...lease };
    });
  }

  revoke(containerId: string, now: number, error: string): Promise<Lease | undefined> {
    return this.exclusive(() => {
      const container = this.mustContainer(containerId);
      if (container.state !== 'Allocated' && container.state !== 'Available') {
        throw new PoolError('INVALID_TRANSITION', `Container ${containerId} is ${container.state}; only Allocated or Available can become Unhealthy.`, {
          containerId,
          from: container.state,
          to: 'Unhealthy',
          actual: container.state,
        });
      }
      const lease = container.leaseId ? this.leases.get(container.leaseId) : undefined;
      if (lease) {
        this.endLease(lease.leaseId, 'revoked', now);
        this.counters.revocations++;
      }
      setState(container, 'Unhealthy', now, error);
      return lease ? { ...lease } : undefined;
    });
  }

  reclaimExpired(now: number): Promise<Lease[]> {
    return this.exclusive(() => {
      const expired = [...this.leases.values()].filter((l) => l.expiresAt <= now);
      for (const lease of expired) {
        this.endLease(lease.leaseId, 'expired', now);
        setState(this.mustContainer(lease.containerId), 'Cleaning', now);
        this.counters.expirations++;
      }
      return expired.map((l) => ({ ...l }));
    });
  }

  listLeases(): Promise<Lease[]> {
    return this.read(() => [...this.leases.values()].map((l) => ({ ...l })));
  }

  getLease(leaseId: string): Promise<Lease> {
    return this.read(() => {
      const lease = this.leases.get(leaseId);
      if (lease) return { ...lease };
      const ended = this.ended.get(leaseId);
      throw ended ? endedLeaseError(ended, 'lookup') : unknownLeaseError(leaseId, 'lookup');
    });
  }

  getEndedLease(leaseId: string): Promise<EndedLease | undefined> {
    return this.read(() => {
      const ended = this.ended.get(leaseId);
      return ended ? { ...ended, lease: { ...ended.lease } } : undefined;
    });
  }

  listQueue(): Promise<QueuedRequest[]> {
    return this.read(() => this.queue.map((q) => ({ ...q, requirements: { ...q.requirements } })));
  }

  appendExecution(testId: string, durationMs: number, limit: number): Promise<void> {
    return this.exclusive(() => {
      const own = this.executions.get(testId) ?? [];
      own.push(durationMs);
      this.executions.set(testId, own.slice(-limit));
      this.overall.push(durationMs);
      if (this.overall.length > limit) this.overall = this.overall.slice(-limit);
    });
  }

  getExecutions(testId?: string): Promise<number[]> {
    return this.read(() => [...(testId === undefined ? this.overall : (this.executions.get(testId) ?? []))]);
  }

  claimExtension(testRunId: string, max: number): Promise<number> {
    return this.exclusive(() => {
      const count = this.extensions.get(testRunId) ?? 0;
      if (count >= max) return -1;
      this.extensions.set(testRunId, count + 1);
      return count + 1;
    });
  }

  getExtensionCount(testRunId: string): Promise<number> {
    return this.read(() => this.extensions.get(testRunId) ?? 0);
  }

  incrementCounter(name: CounterName, by = 1): Promise<void> {
    return this.exclusive(() => {
      this.counters[name] += by;
    });
  }

  getCounters(): Promise<StoreCounters> {
    return this.read(() => ({ ...this.counters }));
  }

  appendAudit(events: readonly AuditEvent[]): Promise<void> {
    return this.exclusive(() => {
      for (const e of events) this.audit.push({ ...e });
      if (this.audit.length > this.auditLimit) this.audit = this.audit.slice(-this.auditLimit);
    });
  }

  listAudit(): Promise<AuditEvent[]> {
    return this.read(() => this.audit.map((e) => ({ ...e })));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  // ---- internals (called with the mutex held) ----

  private dispatchNow(now: number, ttlMs: number): Grant[] {
    const grants: Grant[] = [];
    const available = [...this.containers.values()].filter((c) => c.state === 'Available');
    if (available.length === 0 || this.queue.length === 0) return grants;
    for (let i = 0; i < this.queue.length && available.length > 0; ) {
      const request = this.queue[i]!;
      const slot = request.deadline > now ? available.findIndex((c) => containerSatisfies(c, request.requirements)) : -1;
      if (slot < 0) {
        i++;
        continue;
      }
      const [container] = available.splice(slot, 1);
      this.queue.splice(i, 1);
      const lease: Lease = {
        leaseId: randomUUID(),
        containerId: container!.id,
        token: ++this.token,
        requestId: request.requestId,
        testRunId: request.testRunId,
        priority: request.priority,
        requestedAt: request.requestedAt,
        grantedAt: now,
        expiresAt: now + ttlMs,
        ttlMs,
      };
      this.leases.set(lease.leaseId, lease);
      this.grantedRequests.set(request.requestId, lease.leaseId);
      container!.leaseId = lease.leaseId;
      setState(container!, 'Allocated', now);
      this.counters.allocations++;
      grants.push({ request: { ...request }, lease: { ...lease } });
    }
    return grants;
  }

  private activeLease(leaseId: string, token: number, now: number, operation: string): Lease {
    const lease = this.leases.get(leaseId);
    if (!lease) {
      const ended = this.ended.get(leaseId);
      throw ended ? endedLeaseError(ended, operation) : unknownLeaseError(leaseId, operation);
    }
    if (lease.token !== token) throw staleTokenError(leaseId, lease.containerId, token, operation);
    if (lease.expiresAt <= now) {
      throw endedLeaseError({ lease, reason: 'expired', endedAt: lease.expiresAt }, operation);
    }
    return lease;
  }

  private endLease(leaseId: string, reason: LeaseEndReason, now: number): void {
    const lease = this.leases.get(leaseId);
    if (!lease) return;
    this.leases.delete(leaseId);
    this.grantedRequests.delete(lease.requestId);
    const container = this.containers.get(lease.containerId);
    if (container?.leaseId === leaseId) delete container.leaseId;
    this.ended.set(leaseId, { lease: { ...lease }, reason, endedAt: now });
    if (this.ended.size > this.endedLeaseLimit) {
      const oldest = this.ended.keys().next().value;
      if (oldest !== undefined) this.ended.delete(oldest);
    }
  }

  private insertQueued(request: QueuedRequest): void {
    const rank = PRIORITY_RANK[request.priority];
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const other = this.queue[mid]!;
      const otherRank = PRIORITY_RANK[other.priority];
      if (otherRank < rank || (otherRank === rank && other.seq < request.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, request);
  }

  private mustContainer(id: string): ContainerRecord {
    const container = this.containers.get(id);
    if (!container) throw unknownContainerError(id);
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

function setState(container: ContainerRecord, to: ContainerState, now: number, error?: string): void {
  container.state = to;
  container.stateChangedAt = now;
  if (to === 'Available') container.consecutiveFailures = 0;
  if (error !== undefined) {
    container.lastError = error;
    container.consecutiveFailures++;
  }
}

function copyContainer(c: ContainerRecord): ContainerRecord {
  return { ...c, limits: { ...c.limits }, ...(c.usage ? { usage: { ...c.usage } } : {}) };
}
