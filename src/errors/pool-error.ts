/**
 * Every failure the pool reports is a PoolError with a string code, a message that says what failed
 * (which container, which stage) and what to do, and a `data` bag for programs.
 */
export const POOL_ERROR_CODES = [
  'INVALID_OPTIONS',
  'INVALID_PRIORITY',
  'INVALID_ARGUMENT',
  'POOL_NOT_INITIALIZED',
  'POOL_SHUT_DOWN',
  'POOL_EXHAUSTED',
  'POOL_DEGRADED',
  'CONCURRENCY_LIMIT',
  'ALLOCATION_TIMEOUT',
  'ALLOCATION_CANCELLED',
  'UNSATISFIABLE_REQUEST',
  'DUPLICATE_REQUEST',
  'UNKNOWN_CONTAINER',
  'UNKNOWN_LEASE',
  'LEASE_EXPIRED',
  'STALE_TOKEN',
  'ALREADY_RELEASED',
  'LEASE_REVOKED',
  'INVALID_TRANSITION',
  'EXTENSION_REFUSED',
  'CORRUPT_STATE',
  'STORE_UNAVAILABLE',
  'RUNTIME_ERROR',
  'HEALTH_GATE_FAILED',
  'CLEANUP_FAILED',
  'RESET_FAILED',
  /** A coordinator call without the run's bearer token. */
  'UNAUTHORIZED',
  /** The coordinator (HTTP) cannot be reached or answered something that is not its API. */
  'COORDINATOR_UNAVAILABLE',
] as const;

export type PoolErrorCode = (typeof POOL_ERROR_CODES)[number];

export class PoolError extends Error {
  override readonly name = 'PoolError';
  readonly code: PoolErrorCode;
  readonly data: Readonly<Record<string, unknown>>;

  constructor(code: PoolErrorCode, message: string, data: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.data = data;
  }

  /** Plain JSON form, used by the coordinator's HTTP API and the audit log. */
  toJSON(): { code: PoolErrorCode; message: string; data: Record<string, unknown> } {
    return { code: this.code, message: this.message, data: { ...this.data } };
  }
}

export function isPoolError(value: unknown, code?: PoolErrorCode): value is PoolError {
  return value instanceof PoolError && (code === undefined || value.code === code);
}
