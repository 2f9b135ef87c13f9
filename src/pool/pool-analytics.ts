import { TEST_PRIORITIES, type TestPriority } from '../domain/priority.js';
import type { ContainerRecord } from '../store/pool-store.js';
import { eventsOfType, type PoolAuditEvent } from './audit-events.js';
import type { AllocationRecord, AnalyticsInput, HealthSummary, PoolMetrics, ResourceMetrics, SystemAnalytics, TimeoutMetrics, WaitStats } from './analytics-types.js';
import { recommend } from './recommendations.js';
import { mean, percentile, round } from './statistics.js';
import { adaptiveTimeout } from './timeout-manager.js';

export type * from './analytics-types.js';

const TREND_BUCKETS = 24;

/** Pure: the analytics of a pool from its records and audit trail. */
export function computeAnalytics(input: AnalyticsInput): SystemAnalytics {
  const { audit, now } = input;
  const allocations = allocationRecords(audit);
  const waits = allocations.map((a) => a.waitMs);
  const failures = audit.filter((e) => e.type === 'allocation-failed');
  const poolMetrics: PoolMetrics = {
    totalContainers: input.containers.length,
    availableContainers: input.containers.filter((c) => c.state === 'Available').length,
    allocatedContainers: input.containers.filter((c) => c.state === 'Allocated').length,
    queueSize: input.queue.length,
    averageAllocationTime: Math.round(mean(waits)),
    totalAllocations: input.counters.allocations,
    totalReleases: input.counters.releases,
    failedAllocations: input.counters.failedAllocations,
  };

  const startedAt = input.startedAt || Math.min(now, ...allocations.map((a) => a.allocatedAt));
  const elapsed = Math.max(1, now - startedAt);
  const busyMs = allocations.reduce((sum, a) => sum + Math.max(0, (a.releasedAt ?? now) - a.allocatedAt), 0);
  const cleanups = audit.filter((e) => e.type === 'cleanup');
  const extensions = audit.filter((e) => e.type === 'extension');
  const byCategory = { timeout: 0, resource: 0, system: 0 };
  for (const f of failures) {
    const category = String(f.detail?.category ?? 'system') as keyof typeof byCategory;
    byCategory[category in byCategory ? category : 'system']++;
  }
  const byContainer: Record<string, number> = {};
  for (const e of audit) {
    const failedContainer = e.containerId && (e.type === 'container-unhealthy' || ((e.type === 'cleanup' || e.type === 'reset') && e.outcome === 'failed'));
    if (failedContainer) byContainer[e.containerId!] = (byContainer[e.containerId!] ?? 0) + 1;
  }

  const resourceMetrics: ResourceMetrics = {
    utilizationTrend: utilizationTrend(allocations, input.containers, startedAt, now),
    allocationPatterns: {
      byHour: countBy(allocations, (a) => String(new Date(a.allocatedAt).getUTCHours()).padStart(2, '0')),
      byPriority: Object.fromEntries(TEST_PRIORITIES.map((p) => [p, waitStats(allocations.filter((a) => a.priority === p).map((a) => a.waitMs))])) as Record<TestPriority, WaitStats>,
      byDuration: durationBuckets(allocations, now),
    },
    priorityDistribution: Object.fromEntries(
      TEST_PRIORITIES.map((p) => [p, allocations.length ? round(allocations.filter((a) => a.priority === p).length / allocations.length, 3) : 0]),
    ) as Record<TestPriority, number>,
    failureAnalysis: {
      total: failures.length,
      byCategory,
      byContainer,
      recent: failures.slice(-20).map((f) => ({ at: f.at, category: String(f.detail?.category ?? 'system'), code: String(f.detail?.code ?? ''), message: String(f.detail?.message ?? '') })),
    },
    performanceMetrics: {
      resourceEfficiency: input.containers.length ? round(Math.min(1, busyMs / (input.containers.length * elapsed)), 3) : 0,
      averageWaitMs: Math.round(mean(waits)),
      p95WaitMs: percentile(waits, 95),
      throughputPerMinute: round((allocations.length / elapsed) * 60_000, 2),
      averageCleanupMs: Math.round(mean(cleanups.map((c) => Number(c.detail?.durationMs ?? 0)))),
      cleanupFailures: cleanups.filter((c) => c.outcome === 'failed').length,
      resets: audit.filter((e) => e.type === 'reset').length,
    },
  };

  const adaptiveOn = input.timeouts.enableAdaptiveTimeout && input.executions.length >= input.timeouts.minHistorySamples;
  const timeoutMetrics: TimeoutMetrics = {
    averageExecutionTime: Math.round(mean(input.executions)),
    p95ExecutionTime: percentile(input.executions, 95),
    samples: input.executions.length,
    extensionsGranted: extensions.filter((e) => e.outcome === 'ok').length,
    extensionsDenied: extensions.filter((e) => e.outcome !== 'ok').length,
    adaptiveRecommendation: adaptiveOn
      ? { timeoutMs: adaptiveTimeout(input.executions, input.timeouts.maxTimeoutMs), source: 'adaptive' }
      : { timeoutMs: input.timeouts.defaultTimeoutMs, source: 'default' },
  };

  const health: HealthSummary = {
    unhealthy: audit.filter((e) => e.type === 'container-unhealthy').length,
    recovered: audit.filter((e) => e.type === 'reset' && e.actor === 'coordinator' && e.outcome === 'ok').length,
    leasesRevoked: input.counters.revocations,
    leasesExpired: input.counters.expirations,
    quarantined: [...new Set(audit.filter((e) => e.type === 'container-quarantined').map((e) => e.containerId ?? ''))].filter(Boolean),
  };

  const analytics: Omit<SystemAnalytics, 'optimizationRecommendations'> = {
    generatedAt: now,
    startedAt,
    poolMetrics,
    resourceMetrics,
    timeoutMetrics,
    health,
    degradation: input.degradation,
    allocations,
  };
  return { ...analytics, optimizationRecommendations: recommend(analytics, input) };
}

/** One record per lease, from the 'allocated' event and whatever ended it. */
export function allocationRecords(audit: readonly PoolAuditEvent[]): AllocationRecord[] {
  const ends = new Map<string, { at: number; by: 'released' | 'expired' | 'revoked' }>();
  for (const e of audit) {
    // Events from older runs are read as they were written: one without a leaseId is skipped.
    if (e.type !== 'released' && e.type !== 'lease-expired' && e.type !== 'lease-revoked') continue;
    if (typeof e.detail?.leaseId !== 'string') continue;
    ends.set(e.detail.leaseId, { at: e.at, by: e.type === 'released' ? 'released' : e.type === 'lease-expired' ? 'expired' : 'revoked' });
  }
  return eventsOfType(audit, 'allocated')
    .filter((e) => typeof e.detail?.leaseId === 'string')
    .map((e) => {
      const end = ends.get(e.detail.leaseId);
      return {
        testRunId: e.actor,
        priority: e.detail.priority,
        containerId: e.containerId ?? '',
        leaseId: e.detail.leaseId,
        requestedAt: Number(e.detail.requestedAt),
        allocatedAt: e.at,
        releasedAt: end?.at ?? null,
        waitMs: Number(e.detail.waitMs),
        endedBy: end?.by ?? null,
      };
    });
}

function waitStats(waits: number[]): WaitStats {
  return { count: waits.length, averageWaitMs: Math.round(mean(waits)), p50WaitMs: percentile(waits, 50), p95WaitMs: percentile(waits, 95) };
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

function durationBuckets(allocations: readonly AllocationRecord[], now: number): ResourceMetrics['allocationPatterns']['byDuration'] {
  const out = { under10s: 0, from10to60s: 0, from1to5m: 0, over5m: 0 };
  for (const a of allocations) {
    const held = (a.releasedAt ?? now) - a.allocatedAt;
    if (held < 10_000) out.under10s++;
    else if (held < 60_000) out.from10to60s++;
    else if (held < 300_000) out.from1to5m++;
    else out.over5m++;
  }
  return out;
}

function utilizationTrend(allocations: readonly AllocationRecord[], containers: readonly ContainerRecord[], from: number, to: number): ResourceMetrics['utilizationTrend'] {
  if (to <= from || containers.length === 0) return [];
  const width = (to - from) / TREND_BUCKETS;
  return Array.from({ length: TREND_BUCKETS }, (_, i) => {
    const start = from + i * width;
    const end = start + width;
    const perContainer: Record<string, number> = Object.fromEntries(containers.map((c) => [c.id, 0]));
    for (const a of allocations) {
      const overlap = Math.min(end, a.releasedAt ?? to) - Math.max(start, a.allocatedAt);
      if (overlap > 0 && a.containerId in perContainer) perContainer[a.containerId]! += overlap / width;
    }
    for (const id of Object.keys(perContainer)) perContainer[id] = round(Math.min(1, perContainer[id]!), 3);
    const total = Object.values(perContainer).reduce((s, v) => s + v, 0);
    return { at: Math.round(end), utilization: round(total / containers.length, 3), allocated: round(total, 2), perContainer };
  });
}
