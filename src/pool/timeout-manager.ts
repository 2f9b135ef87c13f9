import type { TimeoutConfig } from '../config/schemas.js';
import { PoolError } from '../errors/pool-error.js';
import type { PoolStore } from '../store/pool-store.js';
import { mean, percentile } from './statistics.js';

export interface TimeoutRecommendation {
  timeoutMs: number;
  /** 'adaptive' once the history has enough samples, else 'default'. */
  source: 'adaptive' | 'default';
  samples: number;
  p95Ms: number;
  averageMs: number;
}

export interface ExtensionDecision {
  granted: boolean;
  /** The test's new timeout when granted, else its current one. */
  timeoutMs: number;
  /** What was added (0 when refused). */
  extensionMs: number;
  reason: string;
  /** Extensions granted to this test run so far, this one included. */
  count: number;
}

export interface ExtensionRequest {
  testRunId: string;
  justification: string;
  /** Extra time wanted, ms. @defaultValue the config's defaultTimeoutMs */
  requestedMs?: number;
  /** The test's timeout now, ms. @defaultValue the config's defaultTimeoutMs */
  currentTimeoutMs?: number;
}

/** The adaptive rule: min(max(p95 × 1.5, average × 2), maxTimeoutMs). */
export function adaptiveTimeout(samples: readonly number[], maxTimeoutMs: number): number {
  return Math.min(Math.ceil(Math.max(percentile(samples, 95) * 1.5, mean(samples) * 2)), maxTimeoutMs);
}

/**
 * Test timeouts from execution history, and bounded extensions. History lives in the store so it survives
 * the run (Redis, or the embedded store's file) and is shared by every coordinator.
 */
export class TimeoutManager {
  constructor(
    private readonly store: PoolStore,
    private config: TimeoutConfig,
  ) {}

  updateConfig(config: TimeoutConfig): void {
    this.config = config;
  }

  get settings(): TimeoutConfig {
    return this.config;
  }

  async recordExecution(testId: string, durationMs: number): Promise<void> {
    if (!Number.isFinite(durationMs) || durationMs < 0) {
      throw new PoolError('INVALID_ARGUMENT', `Execution time for ${testId} must be a non-negative number of ms, got ${durationMs}.`, {
        testId,
        durationMs,
      });
    }
    await this.store.appendExecution(testId, Math.round(durationMs), this.config.historyLimit);
  }

  /** The timeout for `testId` from its own history, or overall history when `testId` is omitted. */
  async recommend(testId?: string): Promise<TimeoutRecommendation> {
    const samples = await this.store.getExecutions(testId);
    return this.recommendFrom(samples);
  }

  recommendFrom(samples: readonly number[]): TimeoutRecommendation {
    const enough = this.config.enableAdaptiveTimeout && samples.length >= this.config.minHistorySamples;
    return {
      timeoutMs: enough ? adaptiveTimeout(samples, this.config.maxTimeoutMs) : this.config.defaultTimeoutMs,
      source: enough ? 'adaptive' : 'default',
      samples: samples.length,
      p95Ms: percentile(samples, 95),
      averageMs: Math.round(mean(samples)),
    };
  }

  /**
   * Grants more time when the request carries a justification, the run has extensions left and the new
   * timeout stays within maxTimeoutMs (a request past it is cut down to it; at it, refused).
   */
  async requestExtension(request: ExtensionRequest): Promise<ExtensionDecision> {
    const requestedMs = request.requestedMs ?? this.config.defaultTimeoutMs;
    const currentTimeoutMs = request.currentTimeoutMs ?? this.config.defaultTimeoutMs;
    for (const [name, value] of [
      ['requestedMs', requestedMs],
      ['currentTimeoutMs', currentTimeoutMs],
    ] as const) {
      if (!Number.isFinite(value) || value <= 0) {
        throw new PoolError('INVALID_ARGUMENT', `Timeout extension for ${request.testRunId}: ${name} must be a positive number of ms, got ${value}.`, {
          testRunId: request.testRunId,
          [name]: value,
        });
      }
    }
    const count = await this.store.getExtensionCount(request.testRunId);
    const refuse = (reason: string): ExtensionDecision => ({ granted: false, timeoutMs: currentTimeoutMs, extensionMs: 0, reason, count });
    if (typeof request.justification !== 'string' || request.justification.trim().length < 3) {
      return refuse('a justification is required (say why the test needs more time)');
    }
    if (currentTimeoutMs >= this.config.maxTimeoutMs) {
      return refuse(`the timeout is already at maxTimeoutMs (${this.config.maxTimeoutMs} ms)`);
    }
    const claimed = await this.store.claimExtension(request.testRunId, this.config.maxExtensions);
    if (claimed < 0) return refuse(`maxExtensions (${this.config.maxExtensions}) reached for ${request.testRunId}`);
    const timeoutMs = Math.min(currentTimeoutMs + requestedMs, this.config.maxTimeoutMs);
    const capped = timeoutMs < currentTimeoutMs + requestedMs;
    return {
      granted: true,
      timeoutMs,
      extensionMs: timeoutMs - currentTimeoutMs,
      reason: capped ? `granted, capped at maxTimeoutMs (${this.config.maxTimeoutMs} ms)` : 'granted',
      count: claimed,
    };
  }
}
