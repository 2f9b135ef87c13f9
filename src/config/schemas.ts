import { z } from 'zod';
import { TEST_PRIORITIES } from '../domain/priority.js';

/** @defaultValue 300000 ms: how long an allocation request waits in the queue before it fails. */
export const DEFAULT_MAX_WAIT_MS = 300_000;
/** @defaultValue 10 waiting requests: queue length that starts graceful degradation. */
export const DEFAULT_QUEUE_SIZE_THRESHOLD = 10;
/** @defaultValue 60000 ms: average recent wait that starts graceful degradation. */
export const DEFAULT_AVG_WAIT_TIME_THRESHOLD_MS = 60_000;
/** @defaultValue 0.2: share of failed allocations/cleanups (recent window) that starts graceful degradation. */
export const DEFAULT_FAILURE_RATE_THRESHOLD = 0.2;
/** @defaultValue 512 MB */
export const DEFAULT_MAX_MEMORY_PER_CONTAINER_MB = 512;
/** @defaultValue 80 % of one CPU */
export const DEFAULT_MAX_CPU_PER_CONTAINER_PERCENT = 80;
/** @defaultValue 10: waiting + active requests at once. */
export const DEFAULT_MAX_CONCURRENT_ALLOCATIONS = 10;
/** @defaultValue 120000 ms */
export const DEFAULT_TIMEOUT_MS = 120_000;
/** @defaultValue 600000 ms */
export const DEFAULT_MAX_TIMEOUT_MS = 600_000;
/** @defaultValue 3 per test run */
export const DEFAULT_MAX_EXTENSIONS = 3;
/**
 * @defaultValue 30000 ms: at equal priority a worker keeps its container from test to test until a waiting
 * request has waited this long (or a third of its queue budget), then hands it back at its next test boundary.
 */
export const DEFAULT_HAND_BACK_AFTER_MS = 30_000;
/** @defaultValue 15000 ms; holders renew at a third of it, so a stall of up to two thirds keeps the lease. */
export const DEFAULT_LEASE_TTL_MS = 15_000;
/** @defaultValue 3600000 ms (1 h): the lease a worker being debugged renews with, so a breakpoint keeps its container. */
export const DEFAULT_LEASE_DEBUG_TTL_MS = 3_600_000;
/**
 * 4 h: the longest debugTtlMs accepted. A debugging worker that crashes keeps its container for up to that
 * long (its lease can only expire), so the bound keeps such a loss short.
 */
export const MAX_LEASE_DEBUG_TTL_MS = 4 * 3_600_000;
/** @defaultValue 30000 ms */
export const DEFAULT_HEALTH_CHECK_INTERVAL_MS = 30_000;
/** @defaultValue 2 containers */
export const DEFAULT_CONTAINER_COUNT = 2;
/** @defaultValue 3001; container i (1-based) listens on basePort + i - 1. */
export const DEFAULT_BASE_PORT = 3001;

const ms = (what: string) => z.number({ error: `${what} must be a number of milliseconds` }).int().positive().finite();

export const resourceConfigSchema = z
  .object({
    maxWaitTimeMs: ms('maxWaitTimeMs').default(DEFAULT_MAX_WAIT_MS),
    queueSizeThreshold: z.number().int().positive().default(DEFAULT_QUEUE_SIZE_THRESHOLD),
    avgWaitTimeThreshold: ms('avgWaitTimeThreshold').default(DEFAULT_AVG_WAIT_TIME_THRESHOLD_MS),
    failureRateThreshold: z.number().gt(0).max(1).default(DEFAULT_FAILURE_RATE_THRESHOLD),
    maxMemoryPerContainerMB: z.number().int().min(64).default(DEFAULT_MAX_MEMORY_PER_CONTAINER_MB),
    maxCpuPerContainerPercent: z.number().int().min(1).max(1600).default(DEFAULT_MAX_CPU_PER_CONTAINER_PERCENT),
    maxConcurrentAllocations: z.number().int().positive().default(DEFAULT_MAX_CONCURRENT_ALLOCATIONS),
    /** Degradation ends only when every metric is below threshold × this factor ... */
    recoveryFactor: z.number().gt(0).lt(1).default(0.8),
    /** ... for at least this long. @defaultValue 30000 ms */
    recoveryHoldMs: ms('recoveryHoldMs').default(30_000),
    /**
     * Equal-priority fairness between workers: how long a waiting request of the holder's priority may wait
     * before the holder hands the container back at a test boundary (a higher-priority waiter gets it at the
     * next boundary regardless). 0 hands back at every boundary someone waits at. @defaultValue 30000 ms
     */
    handBackAfterMs: z.number({ error: 'handBackAfterMs must be a number of milliseconds' }).int().min(0).finite().default(DEFAULT_HAND_BACK_AFTER_MS),
    /** Window of recent allocations used for the average wait and failure rate. @defaultValue 50 */
    metricsWindow: z.number().int().min(5).max(10_000).default(50),
  })
  .strict();
export type ResourceConfig = z.output<typeof resourceConfigSchema>;

export const timeoutConfigObject = z
  .object({
    defaultTimeoutMs: ms('defaultTimeoutMs').default(DEFAULT_TIMEOUT_MS),
    maxTimeoutMs: ms('maxTimeoutMs').default(DEFAULT_MAX_TIMEOUT_MS),
    enableAdaptiveTimeout: z.boolean().default(true),
    maxExtensions: z.number().int().min(0).max(100).default(DEFAULT_MAX_EXTENSIONS),
    /** Samples needed before the adaptive rule replaces defaultTimeoutMs. @defaultValue 5 */
    minHistorySamples: z.number().int().min(1).default(5),
    /** Executions kept per test id and overall. @defaultValue 100 */
    historyLimit: z.number().int().min(10).max(100_000).default(100),
  })
  .strict();
export const timeoutConfigSchema = timeoutConfigObject.refine((c) => c.defaultTimeoutMs <= c.maxTimeoutMs, {
    message: 'defaultTimeoutMs must not exceed maxTimeoutMs',
  path: ['defaultTimeoutMs'],
});
export type TimeoutConfig = z.output<typeof timeoutConfigSchema>;

export const leaseConfigSchema = z
  .object({
    /**
     * Lease time to live. Holders renew at a third of it, so a worker whose event loop stalls for up to two
     * thirds of it (a CPU-starved runner) keeps its lease. @defaultValue 15000 ms
     */
    ttlMs: ms('ttlMs').min(100).default(DEFAULT_LEASE_TTL_MS),
    /** How often expired leases are swept. @defaultValue 1000 ms */
    sweepIntervalMs: ms('sweepIntervalMs').default(1_000),
    /**
     * Time to live a worker being debugged (`--debug`, PWDEBUG, timeout 0, an attached inspector) renews its
     * lease with, so a test paused at a breakpoint keeps its container that long; the coordinator refuses
     * longer renewals. At most 4 h; a value below ttlMs means ttlMs. @defaultValue 3600000 ms (1 h)
     */
    debugTtlMs: ms('debugTtlMs').max(MAX_LEASE_DEBUG_TTL_MS).default(DEFAULT_LEASE_DEBUG_TTL_MS),
  })
  .strict();
export type LeaseConfig = z.output<typeof leaseConfigSchema>;

export const healthConfigSchema = z
  .object({
    healthCheckIntervalMs: ms('healthCheckIntervalMs').default(DEFAULT_HEALTH_CHECK_INTERVAL_MS),
    /** Budget for the whole three-stage gate of one container. @defaultValue 30000 ms */
    startupTimeoutMs: ms('startupTimeoutMs').default(30_000),
    /** Budget for each stage of a routine check. @defaultValue 5000 ms */
    stageTimeoutMs: ms('stageTimeoutMs').default(5_000),
    /** Failed rounds in a row before a container is declared unhealthy. @defaultValue 2 */
    unhealthyThreshold: z.number().int().min(1).default(2),
    /** Memory use (MB) over which a container is restarted once free; defaults to 90 % of its limit. */
    memoryThresholdMB: z.number().positive().optional(),
  })
  .strict();
export type HealthConfig = z.output<typeof healthConfigSchema>;

export const mcpServerConfigSchema = z
  .object({
    /**
     * Expose the tools a page registers through WebMCP as MCP tools (`webmcp_*`). Off by default: their names,
     * descriptions and results come from the page, untrusted input for whatever drives the browser.
     * @defaultValue false
     */
    webmcp: z.boolean().default(false),
  })
  .strict();
export type McpServerConfig = z.output<typeof mcpServerConfigSchema>;

export const RESET_STRATEGIES = ['soft', 'medium', 'hard', 'recovery'] as const;
export type ResetStrategy = (typeof RESET_STRATEGIES)[number];

export const cleanupConfigSchema = z
  .object({
    /** Budget for one cleanup stage. @defaultValue 10000 ms */
    stageTimeoutMs: ms('stageTimeoutMs').default(10_000),
    /** Reset applied when a container is handed out. @defaultValue 'none' */
    resetOnAllocation: z.enum(['none', ...RESET_STRATEGIES]).default('none'),
    /** Reset applied after cleanup at release. @defaultValue 'none' (the six-stage cleanup runs always) */
    resetOnRelease: z.enum(['none', ...RESET_STRATEGIES]).default('none'),
    /** First reset tried for an unhealthy container; failures escalate. @defaultValue 'hard' */
    resetOnHealthFailure: z.enum(RESET_STRATEGIES).default('hard'),
  })
  .strict();
export type CleanupConfig = z.output<typeof cleanupConfigSchema>;

export const containerSpecSchema = z
  .object({
    id: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'must be 1-63 letters, digits, _ . - (start with a letter or digit)'),
    name: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'must be a valid container name'),
    port: z.number().int().min(1024).max(65535),
    /** Memory limit in MB; defaults to resources.maxMemoryPerContainerMB. */
    memoryMB: z.number().int().min(64).optional(),
    /** CPU limit in percent of one core; defaults to resources.maxCpuPerContainerPercent. */
    cpuPercent: z.number().int().min(1).max(1600).optional(),
  })
  .strict();
export type ContainerSpecInput = z.output<typeof containerSpecSchema>;

export const poolOptionsSchema = z
  .object({
    /** Pool size when `containerSpecs` is not given. */
    containers: z.number().int().min(1).max(64).default(DEFAULT_CONTAINER_COUNT),
    basePort: z.number().int().min(1024).max(65535).default(DEFAULT_BASE_PORT),
    /** Explicit container list; overrides `containers` and `basePort`. */
    containerSpecs: z.array(containerSpecSchema).min(1).optional(),
    /** Prefix of container names: `<namePrefix>-<i>`. @defaultValue 'cinnamon-qa-mcp' */
    namePrefix: z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/).default('cinnamon-qa-mcp'),
    /** Pool identity (container labels, store key prefix). @defaultValue 'cinnamon-qa' */
    poolId: z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/).default('cinnamon-qa'),
    resources: resourceConfigSchema.default(() => resourceConfigSchema.parse({})),
    timeouts: timeoutConfigSchema.default(() => timeoutConfigSchema.parse({})),
    lease: leaseConfigSchema.default(() => leaseConfigSchema.parse({})),
    health: healthConfigSchema.default(() => healthConfigSchema.parse({})),
    cleanup: cleanupConfigSchema.default(() => cleanupConfigSchema.parse({})),
    /** How each MCP server runs (every runtime). */
    mcpServer: mcpServerConfigSchema.default(() => mcpServerConfigSchema.parse({})),
  })
  .strict()
  .superRefine((o, ctx) => {
    const specs = o.containerSpecs;
    if (specs) {
      for (const key of ['id', 'name', 'port'] as const) {
        const seen = new Set<unknown>();
        specs.forEach((s, i) => {
          if (seen.has(s[key])) ctx.addIssue({ code: 'custom', path: ['containerSpecs', i, key], message: `duplicate ${key} ${JSON.stringify(s[key])}` });
          seen.add(s[key]);
        });
      }
    } else if (o.basePort + o.containers - 1 > 65535) {
      ctx.addIssue({ code: 'custom', path: ['basePort'], message: `basePort + containers - 1 exceeds 65535` });
    }
  });
export type PoolOptionsInput = z.input<typeof poolOptionsSchema>;
export type PoolOptions = z.output<typeof poolOptionsSchema>;

export const PRIORITY_VALUES = TEST_PRIORITIES;
