import type { LeaseConfig } from '../config/schemas.js';
import { PoolError } from '../errors/pool-error.js';

/**
 * The longest time to live a renewal may ask for: `lease.debugTtlMs`, but never less than `lease.ttlMs` (a
 * debugTtlMs set below ttlMs means ttlMs). The coordinator tells workers this figure as `leaseDebugTtlMs`.
 */
export function maxRenewalTtlMs(config: Pick<LeaseConfig, 'ttlMs' | 'debugTtlMs'>): number {
  return Math.max(config.ttlMs, config.debugTtlMs);
}

/**
 * The time to live a renewal gives a lease. A holder may ask for more than `lease.ttlMs` (a worker being
 * debugged, whose event loop can stop at a breakpoint for minutes) but not for more than `lease.debugTtlMs`;
 * asking for less than `ttlMs` gets `ttlMs`, so no holder can make its own lease more fragile than the pool's.
 */
export function renewalTtlMs(config: Pick<LeaseConfig, 'ttlMs' | 'debugTtlMs'>, requestedMs?: number): number {
  if (requestedMs === undefined) return config.ttlMs;
  const limit = maxRenewalTtlMs(config);
  if (!Number.isSafeInteger(requestedMs) || requestedMs <= 0 || requestedMs > limit) {
    throw new PoolError(
      'INVALID_ARGUMENT',
      `A lease renewal may ask for a time to live of 1 to ${limit} ms (lease.debugTtlMs), got ${requestedMs}. ` +
        `Raise lease.debugTtlMs in the pool options to allow longer debugging pauses.`,
      { requestedMs, limit },
    );
  }
  return Math.max(config.ttlMs, requestedMs);
}
