import { SystemClock, type Clock, type TimerHandle, type TimerOptions } from '../../../src/clock/clock.js';
import { parsePoolOptions } from '../../../src/config/pool-config.js';
import { openSharedPool, type SharedPoolParts } from '../../../src/coordinator/shared-pool-run.js';
import { SILENT_LOGGER, type PoolLogger } from '../../../src/pool/pool-events.js';
import { RedisHostRegistry } from '../../../src/store/redis-host-registry.js';

export interface HolderOptions {
  readonly redisUrl: string;
  readonly poolId: string;
  /** Lease TTL of this participant's grants, ms. */
  readonly leaseTtlMs: number;
  /** @defaultValue 250 */
  readonly sweepIntervalMs?: number;
  /** The base clock (wrapped by the shared pool's Redis-synced OffsetClock). @defaultValue SystemClock */
  readonly clock?: Clock;
  readonly logger?: PoolLogger;
}

export interface Holder extends SharedPoolParts {
  readonly registry: RedisHostRegistry;
  close(): Promise<void>;
}

/**
 * A shard's participant in the test process (root namespace, which reaches every host's members over the
 * bridge): the same openSharedPool a `mode: 'shared'` PoolRun uses, without the coordinator HTTP server.
 */
export async function openHolder(options: HolderOptions): Promise<Holder> {
  const undo: Array<() => Promise<unknown>> = [];
  const close = async (): Promise<void> => {
    for (const step of undo.splice(0).reverse()) await step().catch(() => undefined);
  };
  try {
    const parts = await openSharedPool({
      pool: parsePoolOptions({ poolId: options.poolId, lease: { ttlMs: options.leaseTtlMs, sweepIntervalMs: options.sweepIntervalMs ?? 250 } }),
      plugin: { redisUrl: options.redisUrl },
      clock: options.clock ?? new SystemClock(),
      logger: options.logger ?? SILENT_LOGGER,
      onCleanup: (step) => undo.push(step),
    });
    return { ...parts, registry: new RedisHostRegistry(parts.store), close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * A system clock `offsetMs` ahead, counting the sweeps it scheduled with `sweepIntervalMs` (the scheduler
 * schedules the next sweep only once the previous one finished, so n scheduled sweeps mean n - 1 that ran).
 */
export class SkewedClock extends SystemClock {
  sweepsScheduled = 0;
  constructor(
    private readonly offsetMs: number,
    private readonly sweepIntervalMs: number,
  ) {
    super();
  }

  override now(): number {
    return super.now() + this.offsetMs;
  }

  override setTimeout(callback: () => void, ms: number, options?: TimerOptions): TimerHandle {
    if (ms === this.sweepIntervalMs) this.sweepsScheduled++;
    return super.setTimeout(callback, ms, options);
  }
}
