import type { ResourceConfig, TimeoutConfig } from '../config/schemas.js';
import type { ContainerState } from '../domain/container-state.js';
import type { TestPriority } from '../domain/priority.js';
import type { ContainerRecord, Lease, QueuedRequest, StoreCounters } from '../store/pool-store.js';
import type { PoolAuditEvent } from './audit-events.js';
import type { DegradationState } from './resource-manager.js';

export interface OptimizationRecommendation {
  severity: 'info' | 'warning' | 'critical';
  /** Stable id of the rule that fired (for tooling). */
  rule: string;
  title: string;
  description: string;
  suggestedAction: string;
}

export interface AnalyticsInput {
  now: number;
  startedAt: number;
  containers: ContainerRecord[];
  queue: QueuedRequest[];
  leases: Lease[];
  counters: StoreCounters;
  audit: PoolAuditEvent[];
  executions: number[];
  resources: ResourceConfig;
  timeouts: TimeoutConfig;
  degradation: DegradationState;
}

export interface PoolMetrics {
  totalContainers: number;
  availableContainers: number;
  allocatedContainers: number;
  queueSize: number;
  /** Mean wait from request to grant, ms. */
  averageAllocationTime: number;
  totalAllocations: number;
  totalReleases: number;
  failedAllocations: number;
}

export interface AllocationRecord {
  testRunId: string;
  priority: TestPriority;
  containerId: string;
  leaseId: string;
  requestedAt: number;
  allocatedAt: number;
  releasedAt: number | null;
  waitMs: number;
  /** How the lease ended: released, expired, revoked, or null while active. */
  endedBy: 'released' | 'expired' | 'revoked' | null;
}

export interface WaitStats {
  count: number;
  averageWaitMs: number;
  p50WaitMs: number;
  p95WaitMs: number;
}

export interface ResourceMetrics {
  utilizationTrend: Array<{ at: number; utilization: number; allocated: number; perContainer: Record<string, number> }>;
  allocationPatterns: {
    byHour: Record<string, number>;
    byPriority: Record<TestPriority, WaitStats>;
    byDuration: Record<'under10s' | 'from10to60s' | 'from1to5m' | 'over5m', number>;
  };
  priorityDistribution: Record<TestPriority, number>;
  failureAnalysis: {
    total: number;
    byCategory: { timeout: number; resource: number; system: number };
    byContainer: Record<string, number>;
    recent: Array<{ at: number; category: string; code: string; message: string }>;
  };
  performanceMetrics: {
    /** Share of container time spent leased over the run, 0..1. */
    resourceEfficiency: number;
    averageWaitMs: number;
    p95WaitMs: number;
    throughputPerMinute: number;
    averageCleanupMs: number;
    cleanupFailures: number;
    resets: number;
  };
}

export interface TimeoutMetrics {
  averageExecutionTime: number;
  p95ExecutionTime: number;
  samples: number;
  extensionsGranted: number;
  extensionsDenied: number;
  adaptiveRecommendation: { timeoutMs: number; source: 'adaptive' | 'default' };
}

export interface HealthSummary {
  unhealthy: number;
  recovered: number;
  leasesRevoked: number;
  leasesExpired: number;
  quarantined: string[];
}

export interface SystemAnalytics {
  generatedAt: number;
  startedAt: number;
  poolMetrics: PoolMetrics;
  resourceMetrics: ResourceMetrics;
  timeoutMetrics: TimeoutMetrics;
  health: HealthSummary;
  degradation: DegradationState;
  optimizationRecommendations: OptimizationRecommendation[];
  allocations: AllocationRecord[];
  /**
   * The pool option `runGroup` of the run the analytics are of (the CI build it is one shard of); absent: no
   * group (a local run). `cinnamon-pool merge-reports` merges only reports of one group.
   */
  runGroup?: string;
}

export interface PoolStatus {
  metrics: PoolMetrics;
  queue: { size: number; byPriority: Record<TestPriority, number>; requests: Array<{ requestId: string; testRunId: string; priority: TestPriority; requestedAt: number }> };
  containers: Array<{
    id: string;
    name: string;
    port: number;
    state: ContainerState;
    since: number;
    holder?: string | undefined;
    consecutiveFailures: number;
    lastError?: string;
    usage?: ContainerRecord['usage'];
  }>;
  leases: Lease[];
  degradation: DegradationState;
}
