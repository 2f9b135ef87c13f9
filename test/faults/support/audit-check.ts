import type { AuditEvent } from '../../../src/store/pool-store.js';

/**
 * Replays the audit trail and lists every moment a container was granted while a lease on it was still
 * live: an 'allocated' event must find the container free (its previous lease released, expired or
 * revoked). Events are in recording order, which is the order the coordinator saw them happen.
 */
export function doubleLeases(audit: readonly AuditEvent[]): string[] {
  const holder = new Map<string, string>();
  const problems: string[] = [];
  for (const event of audit) {
    if (!event.containerId) continue;
    const leaseId = typeof event.detail?.leaseId === 'string' ? event.detail.leaseId : undefined;
    if (event.type === 'allocated') {
      const current = holder.get(event.containerId);
      if (current) problems.push(`${event.containerId} granted as ${leaseId} while ${current} still held it`);
      if (leaseId) holder.set(event.containerId, leaseId);
    } else if (event.type === 'released' || event.type === 'lease-expired' || event.type === 'lease-revoked') {
      if (leaseId && holder.get(event.containerId) === leaseId) holder.delete(event.containerId);
    }
  }
  return problems;
}
