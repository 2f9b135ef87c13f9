import type { AuditLog } from './audit-log.js';
import type { PoolEventMap, PoolEventName, PoolEventSource } from './pool-events.js';

type Handlers = { [K in PoolEventName]?: (payload: PoolEventMap[K]) => void };

/**
 * The audit trail as one subscriber to the pool's events: each event that belongs in the trail becomes one
 * audit record (who, what, outcome, detail). Returns the function that unsubscribes it.
 */
export function subscribeAudit(pool: PoolEventSource, audit: AuditLog, runId: string): () => void {
  const handlers: Handlers = {
    initialized: ({ containers, durationMs }) =>
      audit.record({ type: 'pool-started', actor: 'coordinator', outcome: 'ok', detail: { containers, durationMs, runId } }),
    poolResumed: () => audit.record({ type: 'pool-resumed', actor: 'coordinator', outcome: 'ok', detail: { runId } }),
    poolStopped: () => audit.record({ type: 'pool-stopped', actor: 'coordinator', outcome: 'ok' }),
    allocationRetried: ({ testRunId, attempt }) => audit.record({ type: 'allocation-retry', actor: testRunId, outcome: 'failed', detail: { attempt } }),
    containerAllocated: ({ lease, waitMs, requestedAt, attempts }) =>
      audit.record({
        at: lease.grantedAt,
        type: 'allocated',
        actor: lease.testRunId,
        containerId: lease.containerId,
        outcome: 'ok',
        detail: { leaseId: lease.leaseId, token: lease.token, priority: lease.priority, requestedAt, waitMs, attempts, ...(lease.tenant !== undefined ? { tenant: lease.tenant } : {}) },
      }),
    allocationRefused: ({ actor, code, message }) => audit.record({ type: 'allocation-refused', actor, outcome: 'refused', detail: { code, message } }),
    allocationFailed: ({ actor, ...detail }) => audit.record({ type: 'allocation-failed', actor, outcome: 'failed', detail }),
    leaseReturned: ({ lease }) =>
      audit.record({ type: 'released', actor: 'coordinator', containerId: lease.containerId, outcome: 'ok', detail: { leaseId: lease.leaseId, heldMs: 0, unwanted: true } }),
    containerReleased: ({ lease, heldMs }) =>
      audit.record({ type: 'released', actor: lease.testRunId, containerId: lease.containerId, outcome: 'ok', detail: { leaseId: lease.leaseId, heldMs, priority: lease.priority } }),
    leaseExpired: ({ lease }) =>
      audit.record({ type: 'lease-expired', actor: lease.testRunId, containerId: lease.containerId, outcome: 'failed', detail: { leaseId: lease.leaseId, expiresAt: lease.expiresAt } }),
    containerUnhealthy: ({ containerId, reason, cause, leaseId }) => {
      // A failed restart inside recovery is part of the failure already recorded, not a new one.
      if (cause === 'detected') audit.record({ type: 'container-unhealthy', actor: 'health-monitor', containerId, outcome: 'failed', detail: { reason, leaseId } });
      if (cause === 'start-failed') audit.record({ type: 'container-unhealthy', actor: 'coordinator', containerId, outcome: 'failed', detail: { reason, leaseId: undefined } });
    },
    leaseRevoked: ({ lease, reason }) =>
      audit.record({ type: 'lease-revoked', actor: lease.testRunId, containerId: lease.containerId, outcome: 'failed', detail: { leaseId: lease.leaseId, reason } }),
    containerQuarantined: ({ containerId, attempts }) =>
      audit.record({ type: 'container-quarantined', actor: 'coordinator', containerId, outcome: 'failed', detail: { attempts } }),
    cleanupCompleted: (result) =>
      audit.record({
        type: 'cleanup',
        actor: 'coordinator',
        containerId: result.containerId,
        outcome: result.success ? 'ok' : 'failed',
        detail: { level: result.level, durationMs: result.durationMs, failed: result.stages.filter((s) => !s.success).map((s) => `${s.stage}: ${s.error ?? 'failed'}`) },
      }),
    cleanupAdopted: ({ containerId, since }) => audit.record({ type: 'cleanup-adopted', actor: 'coordinator', containerId, outcome: 'ok', detail: { since } }),
    resetCompleted: (result) =>
      audit.record({
        type: 'reset',
        actor: result.actor,
        containerId: result.containerId,
        outcome: result.success ? 'ok' : 'failed',
        detail: { requested: result.requested, applied: result.applied, durationMs: result.durationMs, attempts: result.attempts.length },
      }),
    memoryThresholdExceeded: (event) =>
      audit.record({ type: 'memory-threshold-exceeded', actor: 'health-monitor', containerId: event.containerId, outcome: 'failed', detail: { ...event } }),
    zombieProcesses: (event) =>
      audit.record({ type: 'zombie-processes', actor: 'health-monitor', containerId: event.containerId, outcome: 'failed', detail: { ...event } }),
    sessionsLeftOpen: (event) =>
      audit.record({ type: 'sessions-left-open', actor: 'health-monitor', containerId: event.containerId, outcome: 'failed', detail: { ...event } }),
    extensionDecided: ({ testRunId, decision, justification, requestedMs }) =>
      audit.record({
        type: 'extension',
        actor: testRunId,
        outcome: decision.granted ? 'ok' : 'refused',
        detail: { ...decision, requestedMs: requestedMs ?? null, justification: justification.slice(0, 500) },
      }),
    configUpdated: (patch) => audit.record({ type: 'config-updated', actor: 'operator', outcome: 'ok', detail: patch }),
    degradationStarted: (change) => audit.record({ type: 'degradation-started', actor: 'resource-manager', outcome: 'ok', detail: { ...change } }),
    degradationEnded: (change) => audit.record({ type: 'degradation-ended', actor: 'resource-manager', outcome: 'ok', detail: { ...change } }),
  };
  const entries = Object.entries(handlers) as Array<[PoolEventName, (payload: unknown) => void]>;
  for (const [name, handler] of entries) pool.on(name, handler);
  return () => {
    for (const [name, handler] of entries) pool.off(name, handler);
  };
}
