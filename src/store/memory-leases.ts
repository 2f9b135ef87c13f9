import { randomUUID } from 'node:crypto';
import { tenantOf } from './dispatch-plan.js';
import type { EndedLease, Lease, LeaseEndReason, QueuedRequest } from './pool-store.js';
import { refusalError } from './store-refusals.js';

/**
 * The memory store's leases: the active ones, the fencing token, which request got which lease, and the
 * recently ended ones (bounded) so late callers are told how their lease ended. Container records are the
 * store's: this book only says which container a lease names.
 */
export class MemoryLeaseBook {
  private readonly active = new Map<string, Lease>();
  private readonly ended = new Map<string, EndedLease>();
  private readonly grantedRequests = new Map<string, string>();
  /** The request of each active lease as it was granted (grantsFor). */
  private readonly grantedRecords = new Map<string, QueuedRequest>();
  /** Active leases per tenant, kept at grant and end so a dispatch pass does not count the leases. */
  private readonly perTenant = new Map<string, number>();
  private token = 0;

  constructor(private readonly endedLeaseLimit: number) {}

  get size(): number {
    return this.active.size;
  }

  /** The token the next grant gets. */
  get nextToken(): number {
    return this.token + 1;
  }

  /** A new lease for the request on the container, with the next fencing token. */
  grant(request: QueuedRequest, containerId: string, now: number, ttlMs: number): Lease {
    const lease: Lease = {
      leaseId: randomUUID(),
      containerId,
      token: ++this.token,
      requestId: request.requestId,
      testRunId: request.testRunId,
      priority: request.priority,
      requestedAt: request.requestedAt,
      grantedAt: now,
      expiresAt: now + ttlMs,
      ttlMs,
      ...(request.tenant !== undefined ? { tenant: request.tenant } : {}),
      seq: request.seq,
      ...(request.queuedAt !== undefined ? { queuedAt: request.queuedAt } : {}),
    };
    this.active.set(lease.leaseId, lease);
    this.perTenant.set(tenantOf(lease), (this.perTenant.get(tenantOf(lease)) ?? 0) + 1);
    this.grantedRequests.set(request.requestId, lease.leaseId);
    this.grantedRecords.set(request.requestId, { ...request, requirements: { ...request.requirements } });
    return lease;
  }

  /** Whether the request holds an active lease (it was granted and the lease has not ended). */
  isGranted(requestId: string): boolean {
    return this.grantedRequests.has(requestId);
  }

  grantedLease(requestId: string): Lease | undefined {
    const leaseId = this.grantedRequests.get(requestId);
    return leaseId ? this.active.get(leaseId) : undefined;
  }

  /** The request an active lease was granted for, as it was then. */
  grantedRequest(requestId: string): QueuedRequest | undefined {
    return this.grantedRequests.has(requestId) ? this.grantedRecords.get(requestId) : undefined;
  }

  get(leaseId: string): Lease | undefined {
    return this.active.get(leaseId);
  }

  /** The active lease, or the refusal that says why there is none (ended: how; else unknown). */
  mustGet(leaseId: string, operation: string): Lease {
    const lease = this.active.get(leaseId);
    if (lease) return lease;
    const ended = this.ended.get(leaseId);
    throw refusalError(ended ? { kind: 'LEASE_ENDED', ended, operation } : { kind: 'UNKNOWN_LEASE', leaseId, operation });
  }

  /**
   * The active lease that `token` holds at `now`. Refusals in the order the Lua scripts check them (lease.lua):
   * not active, then the token, then an expiry the sweep has not reclaimed yet.
   */
  holding(leaseId: string, token: number, now: number, operation: string): Lease {
    const lease = this.mustGet(leaseId, operation);
    if (lease.token !== token) throw refusalError({ kind: 'STALE_TOKEN', leaseId, containerId: lease.containerId, token, operation });
    if (lease.expiresAt <= now) {
      throw refusalError({ kind: 'LEASE_ENDED', ended: { lease, reason: 'expired', endedAt: lease.expiresAt }, operation });
    }
    return lease;
  }

  /** Ends an active lease and remembers how; returns it, or undefined when it was not active. */
  end(leaseId: string, reason: LeaseEndReason, now: number, error?: string): Lease | undefined {
    const lease = this.active.get(leaseId);
    if (!lease) return undefined;
    this.active.delete(leaseId);
    const held = (this.perTenant.get(tenantOf(lease)) ?? 1) - 1;
    if (held > 0) this.perTenant.set(tenantOf(lease), held);
    else this.perTenant.delete(tenantOf(lease));
    this.grantedRequests.delete(lease.requestId);
    this.grantedRecords.delete(lease.requestId);
    this.ended.set(leaseId, { lease: { ...lease }, reason, endedAt: now, ...(error !== undefined && error !== '' ? { error } : {}) });
    if (this.ended.size > this.endedLeaseLimit) {
      const oldest = this.ended.keys().next().value;
      if (oldest !== undefined) this.ended.delete(oldest);
    }
    return lease;
  }

  endedLease(leaseId: string): EndedLease | undefined {
    const ended = this.ended.get(leaseId);
    return ended ? { ...ended, lease: { ...ended.lease } } : undefined;
  }

  /** Active leases per tenant (a copy the caller may change). */
  activeByTenant(): Map<string, number> {
    return new Map(this.perTenant);
  }

  /** Active leases in grant order; callers must not change them. */
  list(): Lease[] {
    return [...this.active.values()];
  }
}
