import type { CleanupLevel } from '../cleanup/cleanup-types.js';
import type { ResetStrategy, ResourceConfig, TimeoutConfig } from '../config/schemas.js';
import type { TestPriority } from '../domain/priority.js';
import type { AuditEvent } from '../store/pool-store.js';
import type { FailureCategory } from './pool-events.js';
import type { DegradationChange } from './resource-manager.js';

/**
 * Every audit event the pool writes, by `type`, with its `detail`. Analytics, recommendations and the reporter
 * read events through this union, so renaming an event or a detail field is a compile error there.
 *
 * The JSON written (store, pool-audit.jsonl, history files) is the plain AuditEvent shape: { at, type, actor,
 * containerId?, outcome, detail? }. Details are type aliases (not interfaces) so each stays assignable to
 * the store's `Record<string, unknown>`.
 */
export type AuditDetails = {
  'pool-started': { containers: number; durationMs: number; runId: string };
  'pool-resumed': { runId: string };
  'pool-stopped': undefined;
  allocated: { leaseId: string; token: number; priority: TestPriority; requestedAt: number; waitMs: number; attempts: number };
  'allocation-retry': { attempt: number };
  'allocation-refused': { code: string; message: string };
  'allocation-failed': { category: FailureCategory; code: string; message: string; priority: TestPriority | undefined };
  /** `unwanted`: a grant handed straight back because its requester had gone. */
  released: { leaseId: string; heldMs: number; priority?: TestPriority; unwanted?: true };
  'lease-expired': { leaseId: string; expiresAt: number };
  'lease-revoked': { leaseId: string; reason: string };
  'container-unhealthy': { reason: string; leaseId: string | undefined };
  'container-quarantined': { attempts: number };
  /** `failed`: 'stage: error' of each failed stage. */
  cleanup: { level: CleanupLevel; durationMs: number; failed: string[] };
  'cleanup-adopted': { since: number };
  reset: { requested: ResetStrategy; applied: ResetStrategy | undefined; durationMs: number; attempts: number };
  extension: {
    granted: boolean;
    timeoutMs: number;
    extensionMs: number;
    reason: string;
    count: number;
    requestedMs: number | null;
    /** At most 500 characters. */
    justification: string;
  };
  'config-updated': { resources?: Partial<ResourceConfig>; timeouts?: Partial<TimeoutConfig> };
  'memory-threshold-exceeded': { containerId: string; memoryUsage: number; threshold: number };
  'zombie-processes': { containerId: string; processes: string[] };
  'sessions-left-open': { containerId: string; sessions: number };
  'degradation-started': Extract<DegradationChange, { type: 'degradationStarted' }>;
  'degradation-ended': Extract<DegradationChange, { type: 'degradationEnded' }>;
};

export type AuditEventType = keyof AuditDetails;

/** One audit event of type `T`. */
export type AuditEventOf<T extends AuditEventType> = {
  /** Epoch ms. */
  at: number;
  type: T;
  /** Who asked: a testRunId, 'coordinator', 'health-monitor'... */
  actor: string;
  containerId?: string;
  outcome: AuditEvent['outcome'];
} & (AuditDetails[T] extends undefined ? { detail?: undefined } : { detail: AuditDetails[T] });

/** Any audit event the pool writes: a union discriminated by `type`. */
export type PoolAuditEvent = { [T in AuditEventType]: AuditEventOf<T> }[AuditEventType];

/** An event as recorded: `at` defaults to the clock's now. */
export type PoolAuditRecord = { [T in AuditEventType]: Omit<AuditEventOf<T>, 'at'> & { at?: number } }[AuditEventType];

/**
 * The store's records as pool events. The store keeps what AuditLog wrote, so this is a view, not a parse:
 * an event of a type this build does not know (a newer run's history) matches no reader's `type` check and is
 * skipped by every reader.
 */
export function asPoolAuditEvents(events: readonly AuditEvent[]): PoolAuditEvent[] {
  return events as PoolAuditEvent[];
}

/** Events of one type, narrowed. */
export function eventsOfType<T extends AuditEventType>(events: readonly PoolAuditEvent[], type: T): Array<AuditEventOf<T>> {
  return events.filter((e) => e.type === type) as unknown as Array<AuditEventOf<T>>;
}
