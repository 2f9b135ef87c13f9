import { z } from 'zod';
import { RUN_GROUP_PATTERN, RUN_GROUP_RULE } from '../config/run-group.js';
import type { SystemAnalytics } from '../pool/analytics-types.js';
import type { AuditEvent } from '../store/pool-store.js';

/*
 * Analytics reach the reporter from another process (over HTTP, or through a file), so they are checked
 * before anything is rendered from them. The schemas check what the reporter reads and let unknown fields
 * through: a newer coordinator may add figures, and that must not make an older reporter drop the report.
 */

const num = z.number().finite();
const priorityRecord = <T extends z.ZodType>(value: T) => z.looseObject({ critical: value, high: value, normal: value, low: value });
const waitStats = z.looseObject({ count: num, averageWaitMs: num, p50WaitMs: num, p95WaitMs: num });

const allocationSchema = z.looseObject({
  testRunId: z.string(),
  priority: z.enum(['critical', 'high', 'normal', 'low']),
  containerId: z.string(),
  requestedAt: num,
  allocatedAt: num,
  releasedAt: num.nullable(),
  waitMs: num,
});

const analyticsSchema = z.looseObject({
  generatedAt: num,
  startedAt: num,
  poolMetrics: z.looseObject({
    totalContainers: num,
    availableContainers: num,
    allocatedContainers: num,
    queueSize: num,
    averageAllocationTime: num,
    totalAllocations: num,
    totalReleases: num,
    failedAllocations: num,
  }),
  resourceMetrics: z.looseObject({
    utilizationTrend: z.array(z.looseObject({ at: num, utilization: num, allocated: num, perContainer: z.record(z.string(), num) })),
    allocationPatterns: z.looseObject({ byPriority: priorityRecord(waitStats) }),
    failureAnalysis: z.looseObject({
      total: num,
      byCategory: z.looseObject({ timeout: num, resource: num, system: num }),
      byContainer: z.record(z.string(), num),
    }),
    performanceMetrics: z.looseObject({
      resourceEfficiency: num,
      averageWaitMs: num,
      p95WaitMs: num,
      throughputPerMinute: num,
      averageCleanupMs: num,
      cleanupFailures: num,
      resets: num,
    }),
  }),
  timeoutMetrics: z.looseObject({
    averageExecutionTime: num,
    p95ExecutionTime: num,
    samples: num,
    extensionsGranted: num,
    extensionsDenied: num,
    adaptiveRecommendation: z.looseObject({ timeoutMs: num, source: z.string() }),
  }),
  health: z.looseObject({ unhealthy: num, recovered: num, leasesRevoked: num, leasesExpired: num, quarantined: z.array(z.string()) }),
  degradation: z.looseObject({ active: z.boolean(), reasons: z.array(z.string()) }),
  optimizationRecommendations: z.array(
    z.looseObject({ severity: z.enum(['info', 'warning', 'critical']), rule: z.string(), title: z.string(), description: z.string(), suggestedAction: z.string() }),
  ),
  allocations: z.array(allocationSchema),
  runGroup: z.string().regex(RUN_GROUP_PATTERN, RUN_GROUP_RULE).optional(),
});

const auditEventSchema = z.looseObject({
  at: num,
  type: z.string(),
  actor: z.string(),
  containerId: z.string().optional(),
  outcome: z.string(),
  detail: z.record(z.string(), z.unknown()).optional(),
});

/** Checks analytics read from outside the process; throws an error naming the first wrong field. */
export function parseSystemAnalytics(value: unknown, origin: string): SystemAnalytics {
  const result = analyticsSchema.safeParse(value);
  if (!result.success) throw new Error(`${origin} did not return pool analytics: ${firstIssue(result.error)}`);
  return result.data as unknown as SystemAnalytics;
}

/** Accepts a bare array or `{ events: [...] }` (either is a natural HTTP body). */
export function parseAuditEvents(value: unknown, origin: string): AuditEvent[] {
  const list = Array.isArray(value) ? value : (value as { events?: unknown } | null)?.events;
  const result = z.array(auditEventSchema).safeParse(list);
  if (!result.success) throw new Error(`${origin} did not return audit events: ${firstIssue(result.error)}`);
  return result.data as AuditEvent[];
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid data';
  return `${issue.path.join('.') || '(root)'}: ${issue.message}`;
}
