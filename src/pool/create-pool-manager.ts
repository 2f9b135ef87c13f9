import { SystemClock, type Clock } from '../clock/clock.js';
import type { PoolConfig } from '../config/pool-config.js';
import { CleanupService } from '../cleanup/cleanup-service.js';
import { ContainerResetManager } from '../cleanup/container-reset-manager.js';
import { PoolError } from '../errors/pool-error.js';
import { HealthChecker } from '../health/health-checker.js';
import type { HealthGate } from '../health/health-gate.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { MemberCredentials } from '../runtime/member-credentials.js';
import type { PoolStore } from '../store/pool-store.js';
import { ContainerPoolManager, type CleanupsAtShutdown } from './container-pool-manager.js';
import type { PoolLogger } from './pool-events.js';

export interface CreatePoolManagerOptions {
  config: PoolConfig;
  runtime: ContainerRuntime;
  store: PoolStore;
  clock?: Clock;
  logger?: PoolLogger;
  runId?: string;
  /** The run's member credentials (a program that signs as the pool does passes its own). @defaultValue a new set */
  credentials?: MemberCredentials;
  /** Wraps the members' health gate (a test holds one member's start by construction). @defaultValue the HealthChecker as is */
  wrapHealth?: (gate: HealthGate) => HealthGate;
  /** See ContainerPoolManagerDeps.cleanupsAtShutdown. @defaultValue 'finish' */
  cleanupsAtShutdown?: CleanupsAtShutdown;
}

/**
 * A ContainerPoolManager with the real parts around the given runtime and store: the three-stage
 * HealthChecker, the six-stage CleanupService and the escalating ContainerResetManager, sharing one set of
 * member credentials (the gate sends the pool's, holders get their lease's).
 */
export function createPoolManager(options: CreatePoolManagerOptions): ContainerPoolManager {
  const { config, runtime, store } = options;
  const clock = options.clock ?? new SystemClock();
  // One secret per run: the members' guards get keys from it, the gate and the holders credentials.
  const credentials = options.credentials ?? new MemberCredentials();
  const checker = new HealthChecker({ config: config.health, runtime, clock, credentialFor: (id) => credentials.forPool(id) });
  const health = options.wrapHealth ? options.wrapHealth(checker) : checker;
  const portOf = (id: string) => {
    const spec = config.containerSpecs.find((s) => s.id === id);
    if (!spec) throw new PoolError('UNKNOWN_CONTAINER', `No container ${JSON.stringify(id)} in this pool.`, { containerId: id });
    return spec.port;
  };
  return new ContainerPoolManager({
    config,
    store,
    runtime,
    health,
    cleaner: new CleanupService({ runtime, clock, stageTimeoutMs: config.cleanup.stageTimeoutMs }),
    resetter: new ContainerResetManager({ runtime, health, portOf, clock, credentialFor: (id) => credentials.forPool(id) }),
    clock,
    credentials,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.runId ? { runId: options.runId } : {}),
    ...(options.cleanupsAtShutdown ? { cleanupsAtShutdown: options.cleanupsAtShutdown } : {}),
  });
}
