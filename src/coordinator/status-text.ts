import type { PoolStatus } from '../pool/analytics-types.js';

/** `GET /status` for a human with curl: containers, leases and the queue, one line each. */
export function formatStatusText(status: PoolStatus, header: string, now = Date.now()): string {
  const lines = [header, ''];
  const m = status.metrics;
  lines.push(
    `containers: ${m.totalContainers} (available ${m.availableContainers}, allocated ${m.allocatedContainers})` +
      `   queue: ${status.queue.size}   allocations: ${m.totalAllocations}   releases: ${m.totalReleases}   failed: ${m.failedAllocations}`,
  );
  if (status.degradation.active) lines.push(`DEGRADED since ${new Date(status.degradation.since ?? now).toISOString()}: ${status.degradation.reasons.join(', ')}`);
  lines.push('', 'CONTAINER'.padEnd(24) + 'PORT'.padEnd(7) + 'STATE'.padEnd(11) + 'FOR'.padEnd(9) + 'HOLDER');
  for (const c of status.containers) {
    const age = `${Math.max(0, Math.round((now - c.since) / 1000))}s`;
    const holder = c.holder ?? (c.lastError ? `last error: ${c.lastError}` : '');
    lines.push(`${c.name.padEnd(24)}${String(c.port).padEnd(7)}${c.state.padEnd(11)}${age.padEnd(9)}${holder}`);
  }
  const byPriority = Object.entries(status.queue.byPriority)
    .map(([p, n]) => `${p} ${n}`)
    .join(', ');
  lines.push('', `queue by priority: ${byPriority}`);
  for (const q of status.queue.requests) {
    lines.push(`  ${q.priority.padEnd(9)}${q.testRunId}  waiting ${Math.max(0, Math.round((now - q.requestedAt) / 1000))}s`);
  }
  return `${lines.join('\n')}\n`;
}
