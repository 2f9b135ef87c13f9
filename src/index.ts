/**
 * Public API of @cinnamon-qa/containers. Everything importable is listed here by name.
 */
export { ContainerPoolManager } from './pool/container-pool-manager.js';
export type {
  Allocation,
  ContainerPoolManagerDeps,
  ExtensionOptions,
  LeaseRef,
  ReleaseResult,
  FailureCategory,
} from './pool/container-pool-manager.js';
export type { AllocationRequestInput } from './pool/allocation-request.js';
export type { PoolEventMap, PoolEventName, PoolLogger } from './pool/pool-events.js';
export type {
  AllocationRecord,
  OptimizationRecommendation,
  PoolMetrics,
  PoolStatus,
  ResourceMetrics,
  SystemAnalytics,
  TimeoutMetrics,
} from './pool/analytics-types.js';
export type { ExtensionDecision, TimeoutRecommendation } from './pool/timeout-manager.js';
export type { DegradationState } from './pool/resource-manager.js';
export type { PoolAuditEvent, AuditEventType } from './pool/audit-events.js';

export { parsePoolOptions } from './config/pool-config.js';
export type { ContainerSpec, PoolConfig } from './config/pool-config.js';
export {
  DEFAULT_AVG_WAIT_TIME_THRESHOLD_MS,
  DEFAULT_BASE_PORT,
  DEFAULT_CONTAINER_COUNT,
  DEFAULT_FAILURE_RATE_THRESHOLD,
  DEFAULT_HEALTH_CHECK_INTERVAL_MS,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_MAX_CONCURRENT_ALLOCATIONS,
  DEFAULT_MAX_CPU_PER_CONTAINER_PERCENT,
  DEFAULT_MAX_EXTENSIONS,
  DEFAULT_MAX_MEMORY_PER_CONTAINER_MB,
  DEFAULT_MAX_TIMEOUT_MS,
  DEFAULT_MAX_WAIT_MS,
  DEFAULT_QUEUE_SIZE_THRESHOLD,
  DEFAULT_TIMEOUT_MS,
} from './config/schemas.js';
export type { PoolOptions, PoolOptionsInput, ResetStrategy, ResourceConfig, TimeoutConfig } from './config/schemas.js';

export { PoolError, isPoolError, POOL_ERROR_CODES } from './errors/pool-error.js';
export type { PoolErrorCode } from './errors/pool-error.js';
export { TEST_PRIORITIES } from './domain/priority.js';
export type { TestPriority } from './domain/priority.js';
export type { ContainerState } from './domain/container-state.js';

export { SystemClock } from './clock/clock.js';
export { FakeClock } from './clock/fake-clock.js';
export type { Clock } from './clock/clock.js';

export { MemoryPoolStore } from './store/memory-store.js';
export { RedisPoolStore } from './store/redis-store.js';
// Redis failover under Sentinel (redisUrl 'redis-sentinel://...'): RedisPoolStore.onFailover hears each new master.
export type { PoolFailover, FailoverListener } from './store/redis-failover.js';
export type { PoolStore, Lease, ContainerRecord, AuditEvent, ResourceRequirements } from './store/pool-store.js';
// A pool shared across machines (issue 11; docs/multi-host.md): the host registry shards and agents share, the
// host agent behind `cinnamon-pool agent`, the seam between allocator and member keeper, and Redis' clock.
export { RedisHostRegistry } from './store/redis-host-registry.js';
export type { HostRegistry, HostRecord, HostListing, ReapResult } from './store/host-registry.js';
export { HostAgent } from './agent/host-agent.js';
export type { PoolHost, ContainerHost, MemberEndpoint } from './pool/pool-host.js';
export { OffsetClock } from './clock/offset-clock.js';

export type { ContainerRuntime, RuntimeEvent, RunContext, StartContext } from './runtime/container-runtime.js';
export { MemberCredentials, credentialHeaders } from './runtime/member-credentials.js';
export { fenceMember } from './runtime/member-fence.js';
export type { FenceResult, FenceTarget, MemberFence } from './runtime/member-fence.js';
export type { HealthGate, HealthReport } from './health/health-gate.js';
export type { CleanupResult, ContainerCleaner, ContainerResetter, ResetResult } from './cleanup/cleanup-types.js';

export { DockerRuntime } from './runtime/docker/docker-runtime.js';
export type { DockerRuntimeOptions } from './runtime/docker/docker-runtime.js';
export { ProcessRuntime } from './runtime/process/process-runtime.js';
export type { ProcessRuntimeOptions } from './runtime/process/process-runtime.js';
export { selectRuntime, RUNTIME_ENV_VAR } from './runtime/select-runtime.js';
export type { RuntimeChoice, RuntimeDecision } from './runtime/select-runtime.js';
export { locateChromium } from './runtime/process/chromium-locator.js';
export { HealthChecker } from './health/health-checker.js';
export type { HealthCheckerOptions } from './health/health-checker.js';
export { healthGateError } from './health/health-gate-error.js';
export { HealthMonitor } from './health/health-monitor.js';

export { withContainerPool } from './coordinator/with-container-pool.js';
export type { ContainerPoolOptions } from './coordinator/container-pool-options.js';
export { PoolClient } from './protocol/pool-client.js';
export { POOL_URL_ENV, POOL_TOKEN_ENV } from './protocol/env-names.js';
