import { PRIORITY_RANK } from '../domain/priority.js';
import type { HostListing } from '../store/host-registry.js';
import type { ContainerRecord, Lease, QueuedRequest } from '../store/pool-store.js';

/** What `cinnamon-pool status --redis-url` reads of a shared pool, straight from its Redis. */
export interface SharedPoolSnapshot {
  prefix: string;
  /** Redis' time when read (epoch ms): ages are measured on the pool's clock, not this machine's. */
  now: number;
  hosts: readonly HostListing[];
  containers: readonly ContainerRecord[];
  leases: readonly Lease[];
  queue: readonly QueuedRequest[];
}

/**
 * A shared pool as a person reads it: hosts (live or lost, epoch, draining), members by host with their state
 * and holder, the queue by priority and by tenant. Pure: the command reads, this formats.
 */
export function formatSharedStatus(s: SharedPoolSnapshot): string {
  const secs = (ms: number) => `${Math.max(0, Math.round(ms / 1000))}s`;
  const leaseOf = new Map(s.leases.map((l) => [l.containerId, l]));
  const lines = [`shared pool '${s.prefix}': ${s.hosts.length} host(s), ${s.containers.length} member(s), ${s.leases.length} leased, ${s.queue.length} queued`, ''];
  lines.push('HOST'.padEnd(16) + 'EPOCH'.padEnd(7) + 'STATE'.padEnd(10) + 'ADDRESS'.padEnd(18) + 'LEASE');
  for (const h of s.hosts) {
    const state = !h.live ? 'lost' : h.draining ? 'draining' : 'live';
    const lease = h.live ? `renewed, ${secs(h.expiresAt - s.now)} left` : 'expired (reaped at the next sweep)';
    lines.push(`${h.hostId.padEnd(16)}${String(h.epoch).padEnd(7)}${state.padEnd(10)}${h.address.padEnd(18)}${lease}`);
  }
  lines.push('', 'MEMBER'.padEnd(16) + 'HOST'.padEnd(12) + 'ENDPOINT'.padEnd(22) + 'STATE'.padEnd(11) + 'FOR'.padEnd(8) + 'HOLDER');
  for (const c of s.containers) {
    const lease = leaseOf.get(c.id);
    const holder = lease ? `${lease.testRunId} (${lease.priority}${tenantOf(lease) ? `, ${tenantOf(lease)}` : ''}, token ${lease.token})` : c.lastError ? `last error: ${c.lastError}` : '';
    const endpoint = `${c.address ?? 'localhost'}:${c.port}`;
    lines.push(`${c.id.padEnd(16)}${(c.hostId ?? '-').padEnd(12)}${endpoint.padEnd(22)}${c.state.padEnd(11)}${secs(s.now - c.stateChangedAt).padEnd(8)}${holder}`);
  }
  const counts = new Map<string, number>();
  for (const q of s.queue) counts.set(`${q.priority}|${tenantOf(q) ?? '-'}`, (counts.get(`${q.priority}|${tenantOf(q) ?? '-'}`) ?? 0) + 1);
  const rows = [...counts.entries()]
    .map(([key, n]) => ({ priority: key.split('|')[0]!, tenant: key.split('|')[1]!, n }))
    .sort((a, b) => (PRIORITY_RANK[a.priority as keyof typeof PRIORITY_RANK] ?? 9) - (PRIORITY_RANK[b.priority as keyof typeof PRIORITY_RANK] ?? 9) || a.tenant.localeCompare(b.tenant));
  lines.push('', `queue: ${s.queue.length === 0 ? 'empty' : rows.map((r) => `${r.priority}${r.tenant === '-' ? '' : `/${r.tenant}`} ${r.n}`).join(', ')}`);
  for (const q of s.queue) lines.push(`  ${q.priority.padEnd(9)}${(tenantOf(q) ?? '').padEnd(12)}${q.testRunId}  waiting ${secs(s.now - q.requestedAt)}`);
  return `${lines.join('\n')}\n`;
}

/** The tenant a request or lease was queued for, when the pool has tenants. */
function tenantOf(record: QueuedRequest | Lease): string | undefined {
  const tenant = (record as { tenant?: unknown }).tenant;
  return typeof tenant === 'string' && tenant.length > 0 ? tenant : undefined;
}
