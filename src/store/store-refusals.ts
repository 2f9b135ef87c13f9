import { PoolError } from '../errors/pool-error.js';
import type { ContainerRecord, EndedLease, ResourceRequirements } from './pool-store.js';

/**
 * Why a store refused a call, in store-neutral terms. The memory store builds one where it refuses; the Redis
 * store decodes one from a Lua script's negative reply (redis-errors.ts). Both then call {@link refusalError},
 * so the two stores refuse with the same code, message and data.
 */
export type StoreRefusal =
  | { kind: 'UNKNOWN_CONTAINER'; containerId: string }
  /** transition() into or out of Allocated: only leases do that. */
  | { kind: 'ALLOCATED_BY_LEASE_ONLY'; containerId: string; from: string; to: string; actual: string }
  /** transition() whose compare-and-set failed: the container is `actual`, not `from`. */
  | { kind: 'INVALID_TRANSITION'; containerId: string; from: string; to: string; actual: string }
  /** revoke() of a container that is neither Allocated nor Available. */
  | { kind: 'REVOKE_INVALID_STATE'; containerId: string; actual: string }
  | { kind: 'DUPLICATE_REQUEST'; requestId: string }
  | { kind: 'CONCURRENCY_LIMIT'; active: number; maxConcurrent: number; testRunId: string }
  | { kind: 'UNSATISFIABLE_REQUEST'; requirements: ResourceRequirements; largestLimits: ContainerRecord['limits'] }
  | { kind: 'UNKNOWN_LEASE'; leaseId: string; operation: string }
  | { kind: 'STALE_TOKEN'; leaseId: string; containerId: string; token: number; operation: string }
  /** The lease is no longer active (released, expired — reclaimed or not yet — or revoked). */
  | { kind: 'LEASE_ENDED'; ended: EndedLease; operation: string }
  /** HostRegistry.claim while another agent's host lease is live. */
  | { kind: 'HOST_TAKEN'; hostId: string; heldEpoch: number; remainingMs: number }
  /** A host agent's write whose epoch no longer holds the host lease (undefined heldEpoch: nobody holds it). */
  | { kind: 'STALE_EPOCH'; hostId: string; epoch: number; heldEpoch: number | undefined; operation: string }
  /** registerMembers of an id another host (or a pool without hosts: ownerHostId undefined) registered. */
  | { kind: 'MEMBER_TAKEN'; hostId: string; containerId: string; ownerHostId: string | undefined };

/** The PoolError a store throws for a refusal: one wording for every store. */
export function refusalError(refusal: StoreRefusal): PoolError {
  switch (refusal.kind) {
    case 'UNKNOWN_CONTAINER':
      return new PoolError('UNKNOWN_CONTAINER', `No container ${JSON.stringify(refusal.containerId)} in this pool.`, {
        containerId: refusal.containerId,
      });
    case 'ALLOCATED_BY_LEASE_ONLY': {
      const { containerId, from, to, actual } = refusal;
      return new PoolError(
        'INVALID_TRANSITION',
        `Container ${containerId}: ${from} → ${to} is only possible through a lease (allocate, release, expiry, revoke).`,
        { containerId, from, to, actual },
      );
    }
    case 'INVALID_TRANSITION': {
      const { containerId, from, to, actual } = refusal;
      return new PoolError('INVALID_TRANSITION', `Container ${containerId} is ${actual}, not ${from}; ${from} → ${to} refused.`, {
        containerId,
        from,
        to,
        actual,
      });
    }
    case 'REVOKE_INVALID_STATE': {
      const { containerId, actual } = refusal;
      return new PoolError('INVALID_TRANSITION', `Container ${containerId} is ${actual}; only Allocated or Available can become Unhealthy.`, {
        containerId,
        from: actual,
        to: 'Unhealthy',
        actual,
      });
    }
    case 'DUPLICATE_REQUEST':
      return new PoolError('DUPLICATE_REQUEST', `Request ${refusal.requestId} is already queued or granted.`, { requestId: refusal.requestId });
    case 'CONCURRENCY_LIMIT': {
      const { active, maxConcurrent, testRunId } = refusal;
      return new PoolError(
        'CONCURRENCY_LIMIT',
        `${active} requests are waiting or active, the limit is resources.maxConcurrentAllocations = ${maxConcurrent}; ` +
          `request ${testRunId} refused. Raise the limit or run fewer workers.`,
        { active, maxConcurrent, testRunId },
      );
    }
    case 'UNSATISFIABLE_REQUEST': {
      const { requirements, largestLimits } = refusal;
      return new PoolError(
        'UNSATISFIABLE_REQUEST',
        `No pool container can ever satisfy requiredResources ${JSON.stringify(requirements)}: the largest limits are ` +
          `${largestLimits.memoryMB} MB and ${largestLimits.cpuPercent} % CPU. Lower the requirement or raise ` +
          `resources.maxMemoryPerContainerMB / maxCpuPerContainerPercent.`,
        { requirements, largestLimits },
      );
    }
    case 'UNKNOWN_LEASE': {
      const { leaseId, operation } = refusal;
      return new PoolError('UNKNOWN_LEASE', `No lease ${JSON.stringify(leaseId)} is known to the pool; ${operation} refused.`, { leaseId, operation });
    }
    case 'STALE_TOKEN': {
      const { leaseId, containerId, token, operation } = refusal;
      return new PoolError(
        'STALE_TOKEN',
        `Token ${token} does not hold lease ${leaseId} on ${containerId}; ${operation} refused and nothing changed. ` +
          `A token from an older or foreign lease cannot act on the current one.`,
        { leaseId, containerId, token, operation },
      );
    }
    case 'LEASE_ENDED':
      return endedLeaseError(refusal.ended, refusal.operation);
    case 'HOST_TAKEN': {
      const { hostId, heldEpoch, remainingMs } = refusal;
      return new PoolError(
        'HOST_TAKEN',
        `Host id ${hostId} is held by a live agent (epoch ${heldEpoch}, host lease ${remainingMs} ms left). Stop that agent, ` +
          `wait for its host lease to run out, or start this one with another --host-id.`,
        { hostId, heldEpoch, remainingMs },
      );
    }
    case 'STALE_EPOCH': {
      const { hostId, epoch, heldEpoch, operation } = refusal;
      const now = heldEpoch === undefined ? 'its host lease has expired' : `epoch ${heldEpoch} holds it now`;
      return new PoolError(
        'STALE_EPOCH',
        `Host ${hostId}: epoch ${epoch} no longer holds the host lease (${now}); ${operation} refused and nothing changed. ` +
          `The agent must stop serving and claim the host again.`,
        { hostId, epoch, heldEpoch: heldEpoch ?? null, operation },
      );
    }
    case 'MEMBER_TAKEN': {
      const { hostId, containerId, ownerHostId } = refusal;
      const owner = ownerHostId === undefined ? 'a pool member without a host' : `a member of host ${ownerHostId}`;
      return new PoolError(
        'INVALID_ARGUMENT',
        `Host ${hostId} cannot register member ${containerId}: that id is ${owner}. Give each host's members ids of their ` +
          `own (for example prefixed with the host id).`,
        { hostId, containerId, ownerHostId: ownerHostId ?? null },
      );
    }
  }
}

function endedLeaseError(ended: EndedLease, operation: string): PoolError {
  const { lease, reason } = ended;
  const data = { leaseId: lease.leaseId, containerId: lease.containerId, reason, endedAt: ended.endedAt, operation };
  switch (reason) {
    case 'released':
      return new PoolError('ALREADY_RELEASED', `Lease ${lease.leaseId} on ${lease.containerId} was already released; ${operation} refused.`, data);
    case 'expired':
      return new PoolError(
        'LEASE_EXPIRED',
        `Lease ${lease.leaseId} on ${lease.containerId} expired before ${operation} (no heartbeat within ${lease.ttlMs} ms); ` +
          `the container was reclaimed. Renew at a third of the TTL, or raise lease.ttlMs.`,
        data,
      );
    case 'revoked':
      return new PoolError(
        'LEASE_REVOKED',
        ended.error
          ? `Lease ${lease.leaseId} on ${lease.containerId} was revoked (${ended.error}); ${operation} refused. Allocate again.`
          : `Lease ${lease.leaseId} was revoked because container ${lease.containerId} failed; ${operation} refused. Allocate again.`,
        ended.error ? { ...data, error: ended.error } : data,
      );
  }
}
