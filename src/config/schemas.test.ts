import { describe, expect, it } from 'vitest';
import { isPoolError } from '../errors/pool-error.js';
import { parsePoolOptions } from './pool-config.js';
import * as d from './schemas.js';

describe('pool options defaults', () => {
  it('an empty options object gets every named default', () => {
    const c = parsePoolOptions({});
    expect(c.containers).toBe(d.DEFAULT_CONTAINER_COUNT);
    expect(c.basePort).toBe(d.DEFAULT_BASE_PORT);
    expect(c.namePrefix).toBe(d.DEFAULT_NAME_PREFIX);
    expect(c.poolId).toBe(d.DEFAULT_POOL_ID);
    expect(c.resources).toEqual({
      maxWaitTimeMs: d.DEFAULT_MAX_WAIT_MS,
      queueSizeThreshold: d.DEFAULT_QUEUE_SIZE_THRESHOLD,
      avgWaitTimeThreshold: d.DEFAULT_AVG_WAIT_TIME_THRESHOLD_MS,
      failureRateThreshold: d.DEFAULT_FAILURE_RATE_THRESHOLD,
      maxMemoryPerContainerMB: d.DEFAULT_MAX_MEMORY_PER_CONTAINER_MB,
      maxCpuPerContainerPercent: d.DEFAULT_MAX_CPU_PER_CONTAINER_PERCENT,
      maxConcurrentAllocations: d.DEFAULT_MAX_CONCURRENT_ALLOCATIONS,
      recoveryFactor: d.DEFAULT_RECOVERY_FACTOR,
      recoveryHoldMs: d.DEFAULT_RECOVERY_HOLD_MS,
      handBackAfterMs: d.DEFAULT_HAND_BACK_AFTER_MS,
      metricsWindow: d.DEFAULT_METRICS_WINDOW,
    });
    expect(c.timeouts).toEqual({
      defaultTimeoutMs: d.DEFAULT_TIMEOUT_MS,
      maxTimeoutMs: d.DEFAULT_MAX_TIMEOUT_MS,
      enableAdaptiveTimeout: d.DEFAULT_ENABLE_ADAPTIVE_TIMEOUT,
      maxExtensions: d.DEFAULT_MAX_EXTENSIONS,
      minHistorySamples: d.DEFAULT_MIN_HISTORY_SAMPLES,
      historyLimit: d.DEFAULT_HISTORY_LIMIT,
    });
    expect(c.lease).toEqual({ ttlMs: d.DEFAULT_LEASE_TTL_MS, sweepIntervalMs: d.DEFAULT_LEASE_SWEEP_INTERVAL_MS, debugTtlMs: d.DEFAULT_LEASE_DEBUG_TTL_MS });
    expect(c.health).toEqual({
      healthCheckIntervalMs: d.DEFAULT_HEALTH_CHECK_INTERVAL_MS,
      startupTimeoutMs: d.DEFAULT_STARTUP_TIMEOUT_MS,
      stageTimeoutMs: d.DEFAULT_HEALTH_STAGE_TIMEOUT_MS,
      unhealthyThreshold: d.DEFAULT_UNHEALTHY_THRESHOLD,
    });
    expect(c.cleanup).toEqual({
      stageTimeoutMs: d.DEFAULT_CLEANUP_STAGE_TIMEOUT_MS,
      resetOnAllocation: d.DEFAULT_RESET_ON_ALLOCATION,
      resetOnRelease: d.DEFAULT_RESET_ON_RELEASE,
      resetOnHealthFailure: d.DEFAULT_RESET_ON_HEALTH_FAILURE,
    });
    expect(c.mcpServer).toEqual({ webmcp: d.DEFAULT_MCP_WEBMCP });
  });

  it('a bad value is one INVALID_OPTIONS naming the path and what was given', () => {
    let error: unknown;
    try {
      parsePoolOptions({ lease: { ttlMs: -1 }, resources: { recoveryFactor: 2 } } as never);
    } catch (e) {
      error = e;
    }
    expect(isPoolError(error, 'INVALID_OPTIONS')).toBe(true);
    expect((error as Error).message).toMatch(/lease\.ttlMs: .*\(got -1\)/);
    expect((error as Error).message).toMatch(/resources\.recoveryFactor: .*\(got 2\)/);
  });
});

describe('memoryThresholdMB', () => {
  it('is the configured figure, else the default share of the limit, rounded as the health monitor reports it', () => {
    expect(d.memoryThresholdMB(300, 512)).toBe(300);
    expect(d.memoryThresholdMB(undefined, 512)).toBe(Math.round(512 * d.DEFAULT_MEMORY_THRESHOLD_SHARE));
    expect(d.memoryThresholdMB(undefined, 512)).toBe(461);
  });
});
