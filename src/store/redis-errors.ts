import { PoolError } from '../errors/pool-error.js';
import type { ResourceRequirements } from './pool-store.js';
import { aclDeniedError } from './redis-acl.js';
import { corruptStateError, endedLeaseSchema, leaseSchema, parseStoredJson } from './record-schemas.js';
import type { RedisKeys } from './redis-keys.js';
import { refusalError, type StoreRefusal } from './store-refusals.js';

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
  HOST_TAKEN: -13,
  STALE_EPOCH: -14,
  MEMBER_TAKEN: -15,
} as const;

/** `local ERR = { NAME = -1, ... }`, prepended to every script. */
export function luaErrorTable(): string {
  const entries = Object.entries(SCRIPT_ERRORS).map(([name, code]) => `${name} = ${code}`);
  return `local ERR = { ${entries.join(', ')} }`;
}

/** What the caller asked: a refusal names it, in the same words as the memory store (store-refusals.ts). */
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
  hostId?: string;
  epoch?: number;
}

/** Turns a script's negative code and its two detail strings into the PoolError the caller sees. */
export function scriptError(keys: RedisKeys, code: number, detail1: string, detail2: string, ctx: ScriptCallContext): PoolError {
  const op = ctx.operation;
  if (code === SCRIPT_ERRORS.CORRUPT_STATE) {
    return corruptStateError(
      { prefix: keys.prefix, key: detail1, ...(detail2 ? { field: detail2 } : {}) },
      'record',
      `the ${op} script could not decode it or it lacks required fields`,
    );
  }
  const refusal = scriptRefusal(keys, code, detail1, detail2, ctx);
  if (refusal) return refusalError(refusal);
  return new PoolError(
    'CORRUPT_STATE',
    `A pool script (${op}) returned unknown code ${code}: the Lua scripts and this package do not match. Reinstall the package.`,
    { code, operation: op },
  );
}

/** A script's refusal in the store-neutral terms the memory store uses too; undefined for a code that is no refusal. */
function scriptRefusal(keys: RedisKeys, code: number, detail1: string, detail2: string, ctx: ScriptCallContext): StoreRefusal | undefined {
  const containerId = ctx.containerId ?? '';
  const leaseId = ctx.leaseId ?? '';
  const operation = ctx.operation;
  const transition = { containerId, from: ctx.from ?? '', to: ctx.to ?? '', actual: detail1 };
  switch (code) {
    case SCRIPT_ERRORS.UNKNOWN_CONTAINER:
      return { kind: 'UNKNOWN_CONTAINER', containerId };
    case SCRIPT_ERRORS.ALLOCATED_BY_LEASE_ONLY:
      return { kind: 'ALLOCATED_BY_LEASE_ONLY', ...transition };
    case SCRIPT_ERRORS.INVALID_TRANSITION:
      return { kind: 'INVALID_TRANSITION', ...transition };
    case SCRIPT_ERRORS.REVOKE_INVALID_STATE:
      return { kind: 'REVOKE_INVALID_STATE', containerId, actual: detail1 };
    case SCRIPT_ERRORS.DUPLICATE_REQUEST:
      return { kind: 'DUPLICATE_REQUEST', requestId: ctx.requestId ?? '' };
    case SCRIPT_ERRORS.CONCURRENCY_LIMIT:
      return { kind: 'CONCURRENCY_LIMIT', active: Number(detail1), maxConcurrent: ctx.maxConcurrent ?? Number.NaN, testRunId: ctx.testRunId ?? '' };
    case SCRIPT_ERRORS.UNSATISFIABLE_REQUEST:
      // The script computes the largest limits itself: the message needs nothing else about the containers.
      return {
        kind: 'UNSATISFIABLE_REQUEST',
        requirements: ctx.requirements ?? {},
        largestLimits: { memoryMB: Number(detail1), cpuPercent: Number(detail2) },
      };
    case SCRIPT_ERRORS.UNKNOWN_LEASE:
      return { kind: 'UNKNOWN_LEASE', leaseId, operation };
    case SCRIPT_ERRORS.STALE_TOKEN:
      return { kind: 'STALE_TOKEN', leaseId, containerId: detail1, token: ctx.token ?? Number.NaN, operation };
    case SCRIPT_ERRORS.LEASE_ENDED: {
      const ended = parseStoredJson(endedLeaseSchema, detail1, 'ended lease', { prefix: keys.prefix, key: keys.ended(leaseId) });
      return { kind: 'LEASE_ENDED', ended, operation };
    }
    case SCRIPT_ERRORS.LEASE_EXPIRED: {
      // Past its expiry but not reclaimed yet: refused exactly as if the sweep had already run.
      const lease = parseStoredJson(leaseSchema, detail1, 'lease', { prefix: keys.prefix, key: keys.lease(leaseId) });
      return { kind: 'LEASE_ENDED', ended: { lease, reason: 'expired', endedAt: lease.expiresAt }, operation };
    }
    case SCRIPT_ERRORS.HOST_TAKEN:
      return { kind: 'HOST_TAKEN', hostId: ctx.hostId ?? '', heldEpoch: Number(detail1), remainingMs: Number(detail2) };
    case SCRIPT_ERRORS.STALE_EPOCH:
      return { kind: 'STALE_EPOCH', hostId: ctx.hostId ?? '', epoch: ctx.epoch ?? Number.NaN, heldEpoch: detail1 === '' ? undefined : Number(detail1), operation };
    case SCRIPT_ERRORS.MEMBER_TAKEN:
      return { kind: 'MEMBER_TAKEN', hostId: ctx.hostId ?? '', containerId: detail1, ownerHostId: detail2 === '' ? undefined : detail2 };
    default:
      return undefined;
  }
}

/**
 * Errors that did not come from a script's verdict: the server is down or refused (STORE_UNAVAILABLE), the Redis
 * user lacks a permission (STORE_PERMISSION_DENIED, redis-acl.ts), or a key holds the wrong Redis type
 * (CORRUPT_STATE). PoolErrors pass through unchanged.
 */
export function redisFailure(error: unknown, keys: RedisKeys, operation: string, where: string): PoolError {
  if (error instanceof PoolError) return error;
  const denied = aclDeniedError(error, keys.prefix, operation);
  if (denied) return denied;
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
