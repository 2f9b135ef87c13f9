import type { CleanupResult, ResetResult } from '../cleanup/cleanup-types.js';
import type { ContainerState } from '../domain/container-state.js';
import type { HealthReport } from '../health/health-gate.js';
import type { Lease } from '../store/pool-store.js';
import type { DegradationChange } from './resource-manager.js';
import type { ExtensionDecision } from './timeout-manager.js';

/** Events of a ContainerPoolManager (an EventEmitter): name → payload. */
export interface PoolEventMap {
  initialized: { containers: number; durationMs: number };
  containerAllocated: { lease: Lease; waitMs: number };
  containerReleased: { lease: Lease; heldMs: number };
  leaseExpired: { lease: Lease };
  /** The holder's container failed: its lease ended at once. */
  leaseRevoked: { lease: Lease; reason: string };
  containerStateChanged: { containerId: string; from: ContainerState; to: ContainerState; error?: string };
  cleanupCompleted: CleanupResult;
  resetCompleted: ResetResult;
  containerHealthy: { containerId: string; report?: HealthReport };
  containerUnhealthy: { containerId: string; consecutiveFailures: number; reason: string };
  containerRecovered: { containerId: string; durationMs: number };
  memoryThresholdExceeded: { containerId: string; memoryUsage: number; threshold: number };
  extensionDecided: { testRunId: string; decision: ExtensionDecision; justification: string };
  degradationStarted: Extract<DegradationChange, { type: 'degradationStarted' }>;
  degradationEnded: Extract<DegradationChange, { type: 'degradationEnded' }>;
  /** Something failed in the background (sweep, cleanup pipeline): reported, never thrown. */
  backgroundError: { error: unknown; context: string };
}

export type PoolEventName = keyof PoolEventMap;

export interface PoolLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const SILENT_LOGGER: PoolLogger = { info: () => {}, warn: () => {}, error: () => {} };
