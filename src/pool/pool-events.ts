import type { CleanupLevel, CleanupResult, ResetResult } from '../cleanup/cleanup-types.js';
import type { ResourceConfig, TimeoutConfig } from '../config/schemas.js';
import type { ContainerState } from '../domain/container-state.js';
import type { TestPriority } from '../domain/priority.js';
import type { HealthReport } from '../health/health-gate.js';
import type { Lease } from '../store/pool-store.js';
import type { DegradationChange } from './resource-manager.js';
import type { ExtensionDecision } from './timeout-manager.js';

/** Failure categories of the analytics. */
export type FailureCategory = 'timeout' | 'resource' | 'system';

/** Events of a ContainerPoolManager (an EventEmitter): name → payload. The audit trail is written from these. */
export interface PoolEventMap {
  /** The pool opened: `containers` members passed their gates (with serveFrom 'first', the rest join later). */
  initialized: { containers: number; durationMs: number };
  /**
   * A member passed its start gate after the pool had opened (serveFrom 'first') and is handed out from now on.
   * `ready`: members that passed their start gate so far, of `total`; `afterMs`: since the start began.
   */
  memberJoined: { containerId: string; name: string; ready: number; total: number; afterMs: number };
  /** resume() took over a running pool. */
  poolResumed: Record<string, never>;
  /**
   * shutdown() of a running pool, once background work has settled. `available`: the members Available at that
   * moment, i.e. cleaned after their last holder and fit for the next one (a warm pool's next run hands them out
   * without cleaning them again).
   */
  poolStopped: { available: string[] };
  /** `requestedAt`: when this coordinator first saw the request; `attempts`: queue tries it took. */
  containerAllocated: { lease: Lease; waitMs: number; requestedAt: number; attempts: number };
  /** A try timed out and the request queues again (maxRetries). */
  allocationRetried: { testRunId: string; attempt: number };
  /** The caller's own mistake (bad input, duplicate, cancelled): not a pool failure. */
  allocationRefused: { actor: string; code: string; message: string };
  allocationFailed: { actor: string; category: FailureCategory; code: string; message: string; priority: TestPriority | undefined };
  containerReleased: { lease: Lease; heldMs: number };
  /** A grant whose requester had gone was handed straight back (no holder ever saw it). */
  leaseReturned: { lease: Lease };
  leaseExpired: { lease: Lease };
  /** The holder's container failed: its lease ended at once. */
  leaseRevoked: { lease: Lease; reason: string };
  containerStateChanged: { containerId: string; from: ContainerState; to: ContainerState; error?: string };
  cleanupCompleted: CleanupResult & { level: CleanupLevel };
  /** `actor`: 'coordinator' for the pool's own resets, else the holder's testRunId (a reset through its lease). */
  resetCompleted: ResetResult & { actor: string };
  containerHealthy: { containerId: string; report?: HealthReport };
  /**
   * `cause` 'detected': a running container failed (died, failed its health check; `leaseId` if it was held).
   * 'recreate-failed': recovery's restart from scratch failed again (retried later).
   * 'start-failed': its start or start gate failed while other members served (serveFrom 'first'); recovered.
   */
  containerUnhealthy: { containerId: string; consecutiveFailures: number; reason: string; cause: 'detected' | 'recreate-failed' | 'start-failed'; leaseId?: string };
  containerRecovered: { containerId: string; durationMs: number };
  /** Recovery failed `attempts` times in a row: the container stays Unhealthy. */
  containerQuarantined: { containerId: string; attempts: number };
  /** A container left in Cleaning with no cleanup running (since `since`) is cleaned by this coordinator. */
  cleanupAdopted: { containerId: string; since: number };
  memoryThresholdExceeded: { containerId: string; memoryUsage: number; threshold: number };
  zombieProcesses: { containerId: string; processes: string[] };
  sessionsLeftOpen: { containerId: string; sessions: number };
  extensionDecided: { testRunId: string; decision: ExtensionDecision; justification: string; requestedMs?: number | undefined };
  configUpdated: { resources?: Partial<ResourceConfig>; timeouts?: Partial<TimeoutConfig> };
  degradationStarted: Extract<DegradationChange, { type: 'degradationStarted' }>;
  degradationEnded: Extract<DegradationChange, { type: 'degradationEnded' }>;
  /** Something failed in the background (sweep, cleanup pipeline): reported, never thrown. */
  backgroundError: { error: unknown; context: string };
}

export type PoolEventName = keyof PoolEventMap;

/** How the pool's parts raise an event on the facade (its typed emit). */
export type EmitPoolEvent = <K extends PoolEventName>(event: K, payload: PoolEventMap[K]) => void;

/** What a subscriber (audit, metrics, lease events) needs of the pool. */
export interface PoolEventSource {
  on<K extends PoolEventName>(event: K, listener: (payload: PoolEventMap[K]) => void): unknown;
  off<K extends PoolEventName>(event: K, listener: (payload: PoolEventMap[K]) => void): unknown;
}

/** Reports a background failure: logged and emitted as backgroundError, never thrown. */
export type ReportError = (error: unknown, context: string) => void;

export interface PoolLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const SILENT_LOGGER: PoolLogger = { info: () => {}, warn: () => {}, error: () => {} };

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
