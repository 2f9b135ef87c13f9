import { PoolError } from '../errors/pool-error.js';
import { endedLeaseError, staleTokenError, unknownContainerError, unknownLeaseError, unsatisfiableError } from './lease-rules.js';
import type { ResourceRequirements } from './pool-store.js';
import { corruptStateError, endedLeaseSchema, leaseSchema, parseStoredJson } from './record-schemas.js';
import type { RedisKeys } from './redis-keys.js';

/**
 * The negative codes the Lua scripts return, defined here only: the script loader writes this table into
 * every script as `local ERR = {...}`. Several codes may map to one PoolError code when the message differs.
 */
export const SCRIPT_ERRORS = {
  UNKNOWN_CONTAINER: -1,
  INVALID_TRANSITION: -2,
  ALLOCATED_BY_LEASE_ONLY: -3,
  DUPLICATE_REQUEST: -4,
  CONCURRENCY_LIMIT: -5,
  UNSATISFIABLE_REQUEST: -6,
  UNKNOWN_LEASE: -7,
  STALE_TOKEN: -8,
  LEASE_ENDED: -9,
  LEASE_EXPIRED: -10,
  REVOKE_INVALID_STATE: -11,
  CORRUPT_STATE: -12,
} as const;

/** `local ERR = { NAME = -1, ... }`, prepended to every script. */
export function luaErrorTable(): string {
  const entries = Object.entries(SCRIPT_ERRORS).map(([name, code]) => `${name} = ${code}`);
  return `local ERR = { ${entries.join(', ')} }`;
}

/** What the caller asked, so that a refusal can say it in the same words as the memory store. */
export interface ScriptCallContext {
  operation: string;
  containerId?: string;
  from?: string;
  to?: string;
  requestId?: string;
  testRunId?: string;
  requirements?: ResourceRequirements;
  maxConcurrent?: number;
  leaseId?: string;
  token?: number;
}

/** Turns a script's negative code and its two detail strings into the PoolError the caller sees. */
export function scriptError(keys: RedisKeys, code: number, detail1: string, detail2: string, ctx: ScriptCallContext): PoolError {
  const op = ctx.operation;
  switch (code) {
    case SCRIPT_ERRORS.UNKNOWN_CONTAINER:
      return unknownContainerError(ctx.containerId ?? '');
    case SCRIPT_ERRORS.ALLOCATED_BY_LEASE_ONLY:
      return new PoolError(
        'INVALID_TRANSITION',
        `Container ${ctx.containerId}: ${ctx.from} → ${ctx.to} is only possible through a lease (allocate, release, expiry, revoke).`,
        { containerId: ctx.containerId, from: ctx.from, to: ctx.to, actual: detail1 },
      );
    case SCRIPT_ERRORS.INVALID_TRANSITION:
      return new PoolError('INVALID_TRANSITION', `Container ${ctx.containerId} is ${detail1}, not ${ctx.from}; ${ctx.from} → ${ctx.to} refused.`, {
        containerId: ctx.containerId,
        from: ctx.from,
        to: ctx.to,
        actual: detail1,
      });
    case SCRIPT_ERRORS.REVOKE_INVALID_STATE:
      return new PoolError(
        'INVALID_TRANSITION',
        `Container ${ctx.containerId} is ${detail1}; only Allocated or Available can become Unhealthy.`,
        { containerId: ctx.containerId, from: detail1, to: 'Unhealthy', actual: detail1 },
      );
    case SCRIPT_ERRORS.DUPLICATE_REQUEST:
      return new PoolError('DUPLICATE_REQUEST', `Request ${ctx.requestId} is already queued or granted.`, { requestId: ctx.requestId });
    case SCRIPT_ERRORS.CONCURRENCY_LIMIT: {
      const active = Number(detail1);
      return new PoolError(
        'CONCURRENCY_LIMIT',
        `${active} requests are waiting or active, the limit is resources.maxConcurrentAllocations = ${ctx.maxConcurrent}; ` +
          `request ${ctx.testRunId} refused. Raise the limit or run fewer workers.`,
        { active, maxConcurrent: ctx.maxConcurrent, testRunId: ctx.testRunId },
      );
    }
    case SCRIPT_ERRORS.UNSATISFIABLE_REQUEST:
      // The script reports only the largest limits, which is all the message needs.
      return unsatisfiableError(ctx.requirements ?? {}, [
        { id: '', limits: { memoryMB: Number(detail1), cpuPercent: Number(detail2) } },
      ]);
    case SCRIPT_ERRORS.UNKNOWN_LEASE:
      return unknownLeaseError(ctx.leaseId ?? '', op);
    case SCRIPT_ERRORS.STALE_TOKEN:
      return staleTokenError(ctx.leaseId ?? '', detail1, ctx.token ?? Number.NaN, op);
    case SCRIPT_ERRORS.LEASE_ENDED: {
      const at = { prefix: keys.prefix, key: keys.ended(ctx.leaseId ?? '') };
      return endedLeaseError(parseStoredJson(endedLeaseSchema, detail1, 'ended lease', at), op);
    }
    case SCRIPT_ERRORS.LEASE_EXPIRED: {
      // Past its expiry but not reclaimed yet: refused exactly as if the sweep had already run.
      const lease = parseStoredJson(leaseSchema, detail1, 'lease', { prefix: keys.prefix, key: keys.lease(ctx.leaseId ?? '') });
      return endedLeaseError({ lease, reason: 'expired', endedAt: lease.expiresAt }, op);
    }
    case SCRIPT_ERRORS.CORRUPT_STATE:
      return corruptStateError(
        { prefix: keys.prefix, key: detail1, ...(detail2 ? { field: detail2 } : {}) },
        'record',
        `the ${op} script could not decode it or it lacks required fields`,
      );
    default:
      return new PoolError(
        'CORRUPT_STATE',
        `A pool script (${op}) returned unknown code ${code}: the Lua scripts and this package do not match. Reinstall the package.`,
        { code, operation: op },
      );
  }
}

/**
 * Errors that did not come from a script's verdict: the server is down or refused (STORE_UNAVAILABLE), or a
 * key holds the wrong Redis type (CORRUPT_STATE). PoolErrors pass through unchanged.
 */
export function redisFailure(error: unknown, keys: RedisKeys, operation: string, where: string): PoolError {
  if (error instanceof PoolError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (message.includes('WRONGTYPE')) {
    return new PoolError(
      'CORRUPT_STATE',
      `A Redis key under prefix '${keys.prefix}' holds the wrong type during ${operation} (${message}): something else ` +
        `wrote it. Flush the prefix (redis-cli --scan --pattern '${keys.prefix}:*' | xargs redis-cli DEL) or choose another ` +
        `prefix, and restart the run.`,
      { prefix: keys.prefix, operation, redisMessage: message },
      { cause: error },
    );
  }
  return new PoolError(
    'STORE_UNAVAILABLE',
    `Redis at ${where} failed during ${operation}: ${message}. Check that Redis is running and reachable (REDIS_URL), ` +
      `or use the memory store.`,
    { operation, where, redisMessage: message },
    { cause: error },
  );
}
