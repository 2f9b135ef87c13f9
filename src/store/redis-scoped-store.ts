import type { ContainerSpec } from '../config/pool-config.js';
import type { ContainerState } from '../domain/container-state.js';
import type { HostRegistry } from './host-registry.js';
import type {
  AuditEvent,
  CancelResult,
  ContainerRecord,
  CounterName,
  EndedLease,
  EnqueueResult,
  Grant,
  Lease,
  NewRequest,
  PoolStore,
  QueuedRequest,
  ResourceUsage,
  StoreCounters,
} from './pool-store.js';
import type { HostFence } from './redis-host-fence.js';
import type { RedisPoolStore } from './redis-store.js';

/**
 * The pool store as one host agent writes it (HostRegistry.scopedStore). Its writes to members — transition,
 * revoke, recordUsage — check the agent's epoch inside the same script (STALE_EPOCH, nothing changed, once
 * the host lease expired or a newer agent took the host over); registerContainers is registerMembers.
 * listContainers lists only this host's members: what an agent's keeper watches and recycles. Everything
 * else is the shared store. close() leaves the shared store open (its owner closes it).
 */
export class RedisScopedStore implements PoolStore {
  readonly kind = 'redis' as const;

  constructor(
    private readonly store: RedisPoolStore,
    private readonly registry: HostRegistry,
    readonly fence: Readonly<HostFence>,
  ) {}

  registerContainers(specs: readonly ContainerSpec[]): Promise<ContainerRecord[]> {
    return this.registry.registerMembers(this.fence.hostId, this.fence.epoch, specs);
  }

  async listContainers(): Promise<ContainerRecord[]> {
    return (await this.store.listContainers()).filter((c) => c.hostId === this.fence.hostId);
  }

  getContainer(id: string): Promise<ContainerRecord> {
    return this.store.getContainer(id);
  }

  transition(id: string, from: ContainerState, to: ContainerState, now: number, error?: string): Promise<ContainerRecord> {
    return this.store.transition(id, from, to, now, error, this.fence);
  }

  recordUsage(id: string, usage: ResourceUsage): Promise<void> {
    return this.store.recordUsage(id, usage, this.fence);
  }

  revoke(containerId: string, now: number, error: string): Promise<Lease | undefined> {
    return this.store.revoke(containerId, now, error, this.fence);
  }

  enqueue(request: NewRequest, now: number, ttlMs: number, maxConcurrent: number): Promise<EnqueueResult> {
    return this.store.enqueue(request, now, ttlMs, maxConcurrent);
  }

  dispatch(now: number, ttlMs: number): Promise<Grant[]> {
    return this.store.dispatch(now, ttlMs);
  }

  grantsFor(requestIds: readonly string[]): Promise<Grant[]> {
    return this.store.grantsFor(requestIds);
  }

  cancel(requestId: string): Promise<CancelResult> {
    return this.store.cancel(requestId);
  }

  renew(leaseId: string, token: number, now: number, ttlMs: number): Promise<Lease> {
    return this.store.renew(leaseId, token, now, ttlMs);
  }

  release(leaseId: string, token: number, now: number): Promise<Lease> {
    return this.store.release(leaseId, token, now);
  }

  reclaimExpired(now: number): Promise<Lease[]> {
    return this.store.reclaimExpired(now);
  }

  listLeases(): Promise<Lease[]> {
    return this.store.listLeases();
  }

  nextToken(): Promise<number> {
    return this.store.nextToken();
  }

  getLease(leaseId: string): Promise<Lease> {
    return this.store.getLease(leaseId);
  }

  getEndedLease(leaseId: string): Promise<EndedLease | undefined> {
    return this.store.getEndedLease(leaseId);
  }

  listQueue(): Promise<QueuedRequest[]> {
    return this.store.listQueue();
  }

  appendExecution(testId: string, durationMs: number, limit: number): Promise<void> {
    return this.store.appendExecution(testId, durationMs, limit);
  }

  getExecutions(testId?: string): Promise<number[]> {
    return this.store.getExecutions(testId);
  }

  claimExtension(testRunId: string, max: number): Promise<number> {
    return this.store.claimExtension(testRunId, max);
  }

  getExtensionCount(testRunId: string): Promise<number> {
    return this.store.getExtensionCount(testRunId);
  }

  incrementCounter(name: CounterName, by?: number): Promise<void> {
    return this.store.incrementCounter(name, by);
  }

  getCounters(): Promise<StoreCounters> {
    return this.store.getCounters();
  }

  appendAudit(events: readonly AuditEvent[]): Promise<void> {
    return this.store.appendAudit(events);
  }

  listAudit(): Promise<AuditEvent[]> {
    return this.store.listAudit();
  }

  /** Leaves the shared store open: the agent that created it closes it after leave(). */
  async close(): Promise<void> {}
}
