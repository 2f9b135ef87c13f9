import { TEST_PRIORITIES, type TestPriority } from '../domain/priority.js';
import type { AnalyticsInput, PoolStatus } from './analytics-types.js';
import { computeAnalytics } from './pool-analytics.js';

/** What the status is made of: the store's live records and the pool's settings (no audit, no history). */
export type PoolStatusInput = Omit<AnalyticsInput, 'audit' | 'executions'>;

/** Pure: the pool's status (containers, queue, leases, metrics, degradation) from its records. */
export function poolStatus(input: PoolStatusInput): PoolStatus {
  const { containers, queue, leases } = input;
  const byPriority = Object.fromEntries(TEST_PRIORITIES.map((p) => [p, queue.filter((q) => q.priority === p).length])) as Record<TestPriority, number>;
  // Status is cheap: the pool metrics need no audit trail or history.
  const analytics = computeAnalytics({ ...input, audit: [], executions: [] });
  return {
    metrics: analytics.poolMetrics,
    queue: { size: queue.length, byPriority, requests: queue.map((q) => ({ requestId: q.requestId, testRunId: q.testRunId, priority: q.priority, requestedAt: q.requestedAt })) },
    containers: containers.map((c) => ({
      id: c.id,
      name: c.name,
      port: c.port,
      state: c.state,
      since: c.stateChangedAt,
      ...(c.leaseId ? { holder: leases.find((l) => l.leaseId === c.leaseId)?.testRunId } : {}),
      consecutiveFailures: c.consecutiveFailures,
      ...(c.lastError ? { lastError: c.lastError } : {}),
      ...(c.usage ? { usage: c.usage } : {}),
    })),
    leases,
    degradation: input.degradation,
  };
}
