import type { AuditEvent } from '../../../src/store/pool-store.js';

/**
 * Replays the audit trail and lists every moment a container was granted while a lease on it was still
 * live: an 'allocated' event must find the container free (its previous lease released, expired or
 * revoked). Events are in recording order, which is the order the coordinator saw them happen.
 *
 * `endedElsewhere`: leases the store itself confirmed ended although the audit has no event for it — a release
 * the store applied while its reply was lost to a Redis kill (the holder's retry was told ALREADY_RELEASED for
 * its own token). The coordinator records 'released' only for the answer it saw; that gap in the audit trail is
 * a known defect, noted for the redesign of the audit, and is not a second holder.
 */
export function doubleLeases(audit: readonly AuditEvent[], endedElsewhere: ReadonlySet<string> = new Set()): string[] {
  const holder = new Map<string, string>();
  const problems: string[] = [];
  for (const event of audit) {
    if (!event.containerId) continue;
    const leaseId = typeof event.detail?.leaseId === 'string' ? event.detail.leaseId : undefined;
    if (event.type === 'allocated') {
      const current = holder.get(event.containerId);
      if (current && !endedElsewhere.has(current)) problems.push(`${event.containerId} granted as ${leaseId} while ${current} still held it`);
      if (leaseId) holder.set(event.containerId, leaseId);
    } else if (event.type === 'released' || event.type === 'lease-expired' || event.type === 'lease-revoked') {
      if (leaseId && holder.get(event.containerId) === leaseId) holder.delete(event.containerId);
    }
  }
  return problems;
}
