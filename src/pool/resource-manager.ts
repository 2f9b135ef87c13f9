import type { Clock } from '../clock/clock.js';
import type { ResourceConfig } from '../config/schemas.js';
import type { TestPriority } from '../domain/priority.js';
import { PoolError } from '../errors/pool-error.js';
import type { CleanupLevel } from '../cleanup/cleanup-types.js';
import { mean } from './statistics.js';

export interface LoadSample {
  queueSize: number;
  averageWaitMs: number;
  failureRate: number;
}

export type DegradationReason = 'queueSize' | 'avgWaitTime' | 'failureRate';

export interface DegradationState {
  active: boolean;
  /** Epoch ms when the current (or last) degraded period started. */
  since?: number;
  reasons: DegradationReason[];
  sample: LoadSample;
}

export type DegradationChange =
  | { type: 'degradationStarted'; reasons: DegradationReason[]; sample: LoadSample; at: number }
  | { type: 'degradationEnded'; durationMs: number; sample: LoadSample; at: number };

/** Outcomes needed in the window before the failure rate can trigger degradation (one failure of one is noise). */
const MIN_OUTCOMES_FOR_RATE = 5;

/**
 * Graceful degradation. When the queue is long, waits are long or allocations fail often, the pool sheds
 * load: LOW requests are refused at once and cleanup between leases drops to its cheapest safe level. The
 * mode ends with hysteresis: every metric must stay below threshold × recoveryFactor for recoveryHoldMs.
 */
export class ResourceManager {
  private outcomes: Array<{ waitMs?: number; failed: boolean }> = [];
  private degraded = false;
  private since: number | undefined;
  private calmSince: number | undefined;
  private reasons: DegradationReason[] = [];
  private lastSample: LoadSample = { queueSize: 0, averageWaitMs: 0, failureRate: 0 };

  constructor(
    private config: ResourceConfig,
    private readonly clock: Clock,
  ) {}

  updateConfig(config: ResourceConfig): void {
    this.config = config;
    this.outcomes = this.outcomes.slice(-config.metricsWindow);
  }

  get settings(): ResourceConfig {
    return this.config;
  }

  recordAllocation(waitMs: number): void {
    this.push({ waitMs, failed: false });
  }

  recordFailure(): void {
    this.push({ failed: true });
  }

  sample(queueSize: number): LoadSample {
    const waits = this.outcomes.flatMap((o) => (o.waitMs === undefined ? [] : [o.waitMs]));
    const failures = this.outcomes.filter((o) => o.failed).length;
    return {
      queueSize,
      averageWaitMs: Math.round(mean(waits)),
      failureRate: this.outcomes.length >= MIN_OUTCOMES_FOR_RATE ? failures / this.outcomes.length : 0,
    };
  }

  /** Re-evaluates the mode from the current queue size; returns the change, if the mode changed. */
  evaluate(queueSize: number): DegradationChange | undefined {
    const sample = this.sample(queueSize);
    this.lastSample = sample;
    const now = this.clock.now();
    const { queueSizeThreshold, avgWaitTimeThreshold, failureRateThreshold, recoveryFactor, recoveryHoldMs } = this.config;
    if (!this.degraded) {
      const reasons: DegradationReason[] = [];
      if (sample.queueSize >= queueSizeThreshold) reasons.push('queueSize');
      if (sample.averageWaitMs >= avgWaitTimeThreshold) reasons.push('avgWaitTime');
      if (sample.failureRate >= failureRateThreshold) reasons.push('failureRate');
      if (reasons.length === 0) return undefined;
      this.degraded = true;
      this.since = now;
      this.calmSince = undefined;
      this.reasons = reasons;
      return { type: 'degradationStarted', reasons, sample, at: now };
    }
    const calm =
      sample.queueSize < queueSizeThreshold * recoveryFactor &&
      sample.averageWaitMs < avgWaitTimeThreshold * recoveryFactor &&
      sample.failureRate < failureRateThreshold * recoveryFactor;
    if (!calm) {
      this.calmSince = undefined;
      return undefined;
    }
    this.calmSince ??= now;
    if (now - this.calmSince < recoveryHoldMs) return undefined;
    this.degraded = false;
    this.calmSince = undefined;
    this.reasons = [];
    return { type: 'degradationEnded', durationMs: now - (this.since ?? now), sample, at: now };
  }

  state(): DegradationState {
    return {
      active: this.degraded,
      ...(this.since !== undefined ? { since: this.since } : {}),
      reasons: [...this.reasons],
      sample: { ...this.lastSample },
    };
  }

  /** Throws POOL_DEGRADED for LOW requests while degraded; everything else is admitted. */
  admit(priority: TestPriority, testRunId: string): void {
    if (!this.degraded || priority !== 'low') return;
    throw new PoolError(
      'POOL_DEGRADED',
      `The pool is degraded (${this.reasons.join(', ')} over threshold), so LOW priority requests are refused ` +
        `at once; ${testRunId} was not queued. Retry later, raise its priority, or add containers.`,
      { testRunId, reasons: [...this.reasons], sample: { ...this.lastSample } },
    );
  }

  cleanupLevel(): CleanupLevel {
    return this.degraded ? 'minimal' : 'full';
  }

  private push(outcome: { waitMs?: number; failed: boolean }): void {
    this.outcomes.push(outcome);
    if (this.outcomes.length > this.config.metricsWindow) this.outcomes.shift();
  }
}
