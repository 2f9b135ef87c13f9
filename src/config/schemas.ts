import { z } from 'zod';
import { TEST_PRIORITIES } from '../domain/priority.js';
import { RUN_GROUP_PATTERN, RUN_GROUP_RULE } from './run-group.js';

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
/** @defaultValue 'cinnamon-qa-mcp': container i is named `<namePrefix>-<i>`. */
export const DEFAULT_NAME_PREFIX = 'cinnamon-qa-mcp';
/** @defaultValue 'cinnamon-qa': pool identity (container labels, store key prefix). */
export const DEFAULT_POOL_ID = 'cinnamon-qa';
/** @defaultValue 0.8: degradation ends only when every metric is below threshold × this factor ... */
export const DEFAULT_RECOVERY_FACTOR = 0.8;
/** @defaultValue 30000 ms: ... for at least this long. */
export const DEFAULT_RECOVERY_HOLD_MS = 30_000;
/** @defaultValue 50 allocations: window of recent allocations for the average wait and failure rate. */
export const DEFAULT_METRICS_WINDOW = 50;
/** @defaultValue true: timeouts follow recorded execution times once there are enough samples. */
export const DEFAULT_ENABLE_ADAPTIVE_TIMEOUT = true;
/** @defaultValue 5 samples before the adaptive rule replaces defaultTimeoutMs. */
export const DEFAULT_MIN_HISTORY_SAMPLES = 5;
/** @defaultValue 100 executions kept per test id and overall. */
export const DEFAULT_HISTORY_LIMIT = 100;
/** @defaultValue 1000 ms between sweeps for expired leases. */
export const DEFAULT_LEASE_SWEEP_INTERVAL_MS = 1_000;
/** @defaultValue 30000 ms: budget for the whole three-stage health gate of one container. */
export const DEFAULT_STARTUP_TIMEOUT_MS = 30_000;
/** @defaultValue 5000 ms: budget for each stage of a routine health check. */
export const DEFAULT_HEALTH_STAGE_TIMEOUT_MS = 5_000;
/** @defaultValue 2 failed health rounds in a row before a container is declared unhealthy. */
export const DEFAULT_UNHEALTHY_THRESHOLD = 2;
/**
 * @defaultValue 0.9: without health.memoryThresholdMB, a container is restarted once free when its memory use
 * passes this share of its memory limit.
 */
export const DEFAULT_MEMORY_THRESHOLD_SHARE = 0.9;

/** Memory use (MB) over which a container is restarted once free: the configured figure, else the default share of its limit. */
export function memoryThresholdMB(configuredMB: number | undefined, limitMB: number): number {
  return configuredMB ?? Math.round(limitMB * DEFAULT_MEMORY_THRESHOLD_SHARE);
}
/** @defaultValue false: WebMCP tools of a page are not exposed (untrusted input). */
export const DEFAULT_MCP_WEBMCP = false;
/** @defaultValue 10000 ms: budget for one cleanup stage. */
export const DEFAULT_CLEANUP_STAGE_TIMEOUT_MS = 10_000;
/** @defaultValue 'none': no reset when a container is handed out. */
export const DEFAULT_RESET_ON_ALLOCATION = 'none';
/** @defaultValue 'none': no reset after cleanup at release (the six-stage cleanup runs always). */
export const DEFAULT_RESET_ON_RELEASE = 'none';
/** @defaultValue 'hard': first reset tried for an unhealthy container; failures escalate. */
export const DEFAULT_RESET_ON_HEALTH_FAILURE = 'hard';

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
    recoveryFactor: z.number().gt(0).lt(1).default(DEFAULT_RECOVERY_FACTOR),
    /** ... for at least this long. @defaultValue {@link DEFAULT_RECOVERY_HOLD_MS} */
    recoveryHoldMs: ms('recoveryHoldMs').default(DEFAULT_RECOVERY_HOLD_MS),
    /**
     * Equal-priority fairness between workers: how long a waiting request of the holder's priority may wait
     * before the holder hands the container back at a test boundary (a higher-priority waiter gets it at the
     * next boundary regardless). 0 hands back at every boundary someone waits at. @defaultValue 30000 ms
     */
    handBackAfterMs: z.number({ error: 'handBackAfterMs must be a number of milliseconds' }).int().min(0).finite().default(DEFAULT_HAND_BACK_AFTER_MS),
    /** Window of recent allocations used for the average wait and failure rate. @defaultValue {@link DEFAULT_METRICS_WINDOW} */
    metricsWindow: z.number().int().min(5).max(10_000).default(DEFAULT_METRICS_WINDOW),
  })
  .strict();
export type ResourceConfig = z.output<typeof resourceConfigSchema>;

export const timeoutConfigObject = z
  .object({
    defaultTimeoutMs: ms('defaultTimeoutMs').default(DEFAULT_TIMEOUT_MS),
    maxTimeoutMs: ms('maxTimeoutMs').default(DEFAULT_MAX_TIMEOUT_MS),
    enableAdaptiveTimeout: z.boolean().default(DEFAULT_ENABLE_ADAPTIVE_TIMEOUT),
    maxExtensions: z.number().int().min(0).max(100).default(DEFAULT_MAX_EXTENSIONS),
    /** Samples needed before the adaptive rule replaces defaultTimeoutMs. @defaultValue {@link DEFAULT_MIN_HISTORY_SAMPLES} */
    minHistorySamples: z.number().int().min(1).default(DEFAULT_MIN_HISTORY_SAMPLES),
    /** Executions kept per test id and overall. @defaultValue {@link DEFAULT_HISTORY_LIMIT} */
    historyLimit: z.number().int().min(10).max(100_000).default(DEFAULT_HISTORY_LIMIT),
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
    /** How often expired leases are swept. @defaultValue {@link DEFAULT_LEASE_SWEEP_INTERVAL_MS} */
    sweepIntervalMs: ms('sweepIntervalMs').default(DEFAULT_LEASE_SWEEP_INTERVAL_MS),
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
    /** Budget for the whole three-stage gate of one container. @defaultValue {@link DEFAULT_STARTUP_TIMEOUT_MS} */
    startupTimeoutMs: ms('startupTimeoutMs').default(DEFAULT_STARTUP_TIMEOUT_MS),
    /** Budget for each stage of a routine check. @defaultValue {@link DEFAULT_HEALTH_STAGE_TIMEOUT_MS} */
    stageTimeoutMs: ms('stageTimeoutMs').default(DEFAULT_HEALTH_STAGE_TIMEOUT_MS),
    /** Failed rounds in a row before a container is declared unhealthy. @defaultValue {@link DEFAULT_UNHEALTHY_THRESHOLD} */
    unhealthyThreshold: z.number().int().min(1).default(DEFAULT_UNHEALTHY_THRESHOLD),
    /** Memory use (MB) over which a container is restarted once free. @defaultValue {@link DEFAULT_MEMORY_THRESHOLD_SHARE} of its limit */
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
    webmcp: z.boolean().default(DEFAULT_MCP_WEBMCP),
  })
  .strict();
export type McpServerConfig = z.output<typeof mcpServerConfigSchema>;

export const RESET_STRATEGIES = ['soft', 'medium', 'hard', 'recovery'] as const;
export type ResetStrategy = (typeof RESET_STRATEGIES)[number];

export const cleanupConfigSchema = z
  .object({
    /** Budget for one cleanup stage. @defaultValue {@link DEFAULT_CLEANUP_STAGE_TIMEOUT_MS} */
    stageTimeoutMs: ms('stageTimeoutMs').default(DEFAULT_CLEANUP_STAGE_TIMEOUT_MS),
    /** Reset applied when a container is handed out. @defaultValue 'none' */
    resetOnAllocation: z.enum(['none', ...RESET_STRATEGIES]).default(DEFAULT_RESET_ON_ALLOCATION),
    /** Reset applied after cleanup at release. @defaultValue 'none' (the six-stage cleanup runs always) */
    resetOnRelease: z.enum(['none', ...RESET_STRATEGIES]).default(DEFAULT_RESET_ON_RELEASE),
    /** First reset tried for an unhealthy container; failures escalate. @defaultValue 'hard' */
    resetOnHealthFailure: z.enum(RESET_STRATEGIES).default(DEFAULT_RESET_ON_HEALTH_FAILURE),
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
    /** Prefix of container names: `<namePrefix>-<i>`. @defaultValue {@link DEFAULT_NAME_PREFIX} */
    namePrefix: z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/).default(DEFAULT_NAME_PREFIX),
    /** Pool identity (container labels, store key prefix). @defaultValue {@link DEFAULT_POOL_ID} */
    poolId: z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/).default(DEFAULT_POOL_ID),
    /**
     * The team or suite this run's requests are queued for. Inside one priority level a shared pool serves
     * tenants fairly (the next container goes to the tenant holding fewest); priority still wins across levels.
     * Env CINNAMON_POOL_TENANT overrides. @defaultValue none: the default tenant (shares like any other)
     */
    tenant: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'must be 1-63 letters, digits, _ . - (start with a letter or digit)').optional(),
    /**
     * Most containers the tenant may hold at once; its further requests wait without holding up other tenants.
     * Every shard of a tenant should set the same (each request carries its own). @defaultValue none: no quota
     */
    tenantQuota: z.number().int().min(1).max(10_000).optional(),
    /**
     * The CI build this run is one shard of: the shards of one build share it, `cinnamon-pool merge-reports`
     * merges reports of one group and refuses to mix groups. Env CINNAMON_POOL_RUN_GROUP overrides.
     * @defaultValue withContainerPool takes the CI build id (src/config/run-group.ts: `github:<run id>-<attempt>`,
     * `gitlab:<pipeline id>`, Buildkite, CircleCI, Jenkins, Azure); none outside CI (a local run has no group)
     */
    runGroup: z.string().regex(RUN_GROUP_PATTERN, `${RUN_GROUP_RULE}, e.g. the CI build id; or leave it out to take the CI build id`).optional(),
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
