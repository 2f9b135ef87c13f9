import type { SystemAnalytics } from '../pool/analytics-types.js';
import { formatMs, formatPercent } from './format.js';

/** One headline figure: the HTML page shows it as a card, the HTML-report entry as an annotation. */
export interface HeadlineFigure {
  /** Annotation type, `pool.*` like the per-test annotations the fixture adds. */
  key: string;
  label: string;
  value: string;
  /** A second line of detail. */
  detail: string;
  /** Draws attention when something went wrong (failures, unhealthy containers). */
  tone: 'neutral' | 'good' | 'warn' | 'bad';
}

export function headlineFigures(a: SystemAnalytics): HeadlineFigure[] {
  const perf = a.resourceMetrics.performanceMetrics;
  const t = a.timeoutMetrics;
  const h = a.health;
  const pm = a.poolMetrics;
  const healthEvents = h.unhealthy + h.leasesRevoked + h.leasesExpired;
  const critical = a.optimizationRecommendations.filter((r) => r.severity === 'critical').length;
  const warnings = a.optimizationRecommendations.filter((r) => r.severity === 'warning').length;
  // A figure a recommendation is about takes that recommendation's severity.
  const toneOf = (...rules: string[]): HeadlineFigure['tone'] => {
    const hits = a.optimizationRecommendations.filter((r) => rules.includes(r.rule));
    return hits.some((r) => r.severity === 'critical') ? 'bad' : hits.length ? 'warn' : 'neutral';
  };
  return [
    {
      key: 'pool.containers',
      label: 'Containers',
      value: String(pm.totalContainers),
      detail: `${formatPercent(perf.resourceEfficiency)} utilised · run ${formatMs(a.generatedAt - a.startedAt)}`,
      tone: toneOf('pool-oversized', 'container-failing'),
    },
    {
      key: 'pool.allocations',
      label: 'Allocations',
      value: String(pm.totalAllocations),
      detail: `${pm.failedAllocations} failed · ${perf.throughputPerMinute} per minute`,
      tone: pm.failedAllocations > 0 ? 'bad' : 'neutral',
    },
    {
      key: 'pool.wait',
      label: 'Allocation wait',
      value: `p95 ${formatMs(perf.p95WaitMs)}`,
      detail: `average ${formatMs(perf.averageWaitMs)}`,
      tone: toneOf('queue-wait-high', 'allocation-timeouts'),
    },
    {
      key: 'pool.timeouts',
      label: 'Test execution',
      value: `p95 ${formatMs(t.p95ExecutionTime)}`,
      detail: `average ${formatMs(t.averageExecutionTime)} · suggested timeout ${formatMs(t.adaptiveRecommendation.timeoutMs)} (${t.adaptiveRecommendation.source})`,
      tone: toneOf('extensions-frequent'),
    },
    {
      key: 'pool.extensions',
      label: 'Timeout extensions',
      value: `${t.extensionsGranted} granted`,
      detail: `${t.extensionsDenied} denied`,
      tone: t.extensionsDenied > 0 ? 'warn' : 'neutral',
    },
    {
      key: 'pool.health',
      label: 'Health events',
      value: String(healthEvents),
      detail: `${h.unhealthy} unhealthy · ${h.recovered} recovered · ${h.leasesRevoked} revoked · ${h.leasesExpired} expired`,
      tone: h.unhealthy + h.leasesRevoked > 0 ? 'bad' : h.leasesExpired > 0 ? 'warn' : 'good',
    },
    {
      key: 'pool.recommendations',
      label: 'Recommendations',
      value: String(a.optimizationRecommendations.length),
      detail: a.optimizationRecommendations.length ? `${critical} critical · ${warnings} warning` : 'nothing to tune',
      tone: critical > 0 ? 'bad' : warnings > 0 ? 'warn' : 'good',
    },
  ];
}

/** `CRITICAL` etc., for the terminal and the report annotations. */
export function severityLabel(severity: 'info' | 'warning' | 'critical'): string {
  return severity.toUpperCase();
}
