import type { PoolErrorCode } from '../errors/pool-error.js';

/**
 * The HTTP status of each PoolError code, so a client can tell "your request was wrong" (4xx, do not retry)
 * from "the pool cannot serve now" (503, maybe later) without parsing messages. The body always carries the
 * code itself; the status is for proxies, logs and humans with curl.
 */
const STATUS_BY_CODE: Readonly<Record<PoolErrorCode, number>> = {
  INVALID_OPTIONS: 400,
  INVALID_PRIORITY: 400,
  INVALID_ARGUMENT: 400,
  UNAUTHORIZED: 401,
  UNKNOWN_CONTAINER: 404,
  UNKNOWN_LEASE: 404,
  STALE_TOKEN: 409,
  ALREADY_RELEASED: 409,
  INVALID_TRANSITION: 409,
  DUPLICATE_REQUEST: 409,
  // The caller went away; nobody reads this answer, but logs should not call it a server fault.
  ALLOCATION_CANCELLED: 409,
  LEASE_EXPIRED: 410,
  LEASE_REVOKED: 410,
  UNSATISFIABLE_REQUEST: 422,
  POOL_NOT_INITIALIZED: 503,
  POOL_SHUT_DOWN: 503,
  POOL_DEGRADED: 503,
  CONCURRENCY_LIMIT: 503,
  ALLOCATION_TIMEOUT: 503,
  STORE_UNAVAILABLE: 503,
  // The pool's Redis user lacks a permission: a server-side set-up fault, not the caller's.
  STORE_PERMISSION_DENIED: 500,
  COORDINATOR_UNAVAILABLE: 503,
  CORRUPT_STATE: 500,
  RUNTIME_ERROR: 500,
  HEALTH_GATE_FAILED: 500,
  CLEANUP_FAILED: 500,
  RESET_FAILED: 500,
  HOST_TAKEN: 409,
  STALE_EPOCH: 409,
  NO_LIVE_HOST: 503,
  WARM_POOL_BUSY: 409,
};

export function httpStatusOf(code: PoolErrorCode): number {
  return STATUS_BY_CODE[code] ?? 500;
}
