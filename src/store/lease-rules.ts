import type { ContainerRecord, EndedLease, ResourceRequirements } from './pool-store.js';
import { PoolError } from '../errors/pool-error.js';

/** Whether a container's limits could ever meet the requirements (usage aside). */
export function limitsSatisfy(container: Pick<ContainerRecord, 'limits'>, req: ResourceRequirements): boolean {
  return container.limits.memoryMB >= (req.minMemoryMB ?? 0) && container.limits.cpuPercent >= (req.maxCpuPercent ?? 0);
}

/** Whether the container can serve the request now: limits, and memory left after its last measured use. */
export function containerSatisfies(container: Pick<ContainerRecord, 'limits' | 'usage'>, req: ResourceRequirements): boolean {
  if (!limitsSatisfy(container, req)) return false;
  const used = container.usage?.memoryMB ?? 0;
  return container.limits.memoryMB - used >= (req.minMemoryMB ?? 0);
}

export function unsatisfiableError(req: ResourceRequirements, containers: readonly Pick<ContainerRecord, 'id' | 'limits'>[]): PoolError {
  const largest = containers.reduce(
    (acc, c) => ({ memoryMB: Math.max(acc.memoryMB, c.limits.memoryMB), cpuPercent: Math.max(acc.cpuPercent, c.limits.cpuPercent) }),
    { memoryMB: 0, cpuPercent: 0 },
  );
  return new PoolError(
    'UNSATISFIABLE_REQUEST',
    `No pool container can ever satisfy requiredResources ${JSON.stringify(req)}: the largest limits are ` +
      `${largest.memoryMB} MB and ${largest.cpuPercent} % CPU. Lower the requirement or raise ` +
      `resources.maxMemoryPerContainerMB / maxCpuPerContainerPercent.`,
    { requirements: req, largestLimits: largest },
  );
}

/** The error for an operation on a lease that is no longer active. */
export function endedLeaseError(ended: EndedLease, operation: string): PoolError {
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
        `Lease ${lease.leaseId} was revoked because container ${lease.containerId} failed; ${operation} refused. Allocate again.`,
        data,
      );
  }
}

export function unknownLeaseError(leaseId: string, operation: string): PoolError {
  return new PoolError('UNKNOWN_LEASE', `No lease ${JSON.stringify(leaseId)} is known to the pool; ${operation} refused.`, { leaseId, operation });
}

export function staleTokenError(leaseId: string, containerId: string, given: number, operation: string): PoolError {
  return new PoolError(
    'STALE_TOKEN',
    `Token ${given} does not hold lease ${leaseId} on ${containerId}; ${operation} refused and nothing changed. ` +
      `A token from an older or foreign lease cannot act on the current one.`,
    { leaseId, containerId, token: given, operation },
  );
}

export function unknownContainerError(id: string): PoolError {
  return new PoolError('UNKNOWN_CONTAINER', `No container ${JSON.stringify(id)} in this pool.`, { containerId: id });
}
