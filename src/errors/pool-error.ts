/**
 * Every failure the pool reports is a PoolError with a string code, a message that says what failed
 * (which container, which stage) and what to do, and a `data` bag for programs.
 *
 * Each code below says what it means and what the user does about it. The HTTP status of each code is in
 * protocol/http-error-status.ts; a code added here must be added there too (the compiler insists).
 */
export const POOL_ERROR_CODES = [
  // ---- the caller asked for something wrong: fix the call or the configuration, retrying will not help ----
  /** Pool, plugin, store or runtime options failed validation; the message lists every bad field. Fix the options. */
  'INVALID_OPTIONS',
  /** A priority that is not critical, high, normal or low. Use one of those (e.g. `test.use({ priority: 'high' })`). */
  'INVALID_PRIORITY',
  /**
   * A call got an argument it cannot use (empty id, NaN or negative number, malformed lease reference, bad HTTP
   * body) or was made at the wrong time (initialize twice). The message names the argument: fix the caller.
   */
  'INVALID_ARGUMENT',
  /** A coordinator call without the run's bearer token. Use the token globalSetup exported (CINNAMON_POOL_TOKEN). */
  'UNAUTHORIZED',
  /** The same requestId was queued or granted already. Use a fresh id for each allocation. */
  'DUPLICATE_REQUEST',
  /**
   * No pool container's limits can ever meet the request's requiredResources; refused at once instead of waiting.
   * Lower the requirement or raise resources.maxMemoryPerContainerMB / maxCpuPerContainerPercent.
   */
  'UNSATISFIABLE_REQUEST',

  // ---- the pool's lifecycle ----
  /** A pool call before initialize() (or resume()). Call it first; globalSetup does. */
  'POOL_NOT_INITIALIZED',
  /** The pool is shutting down or has shut down (also an interrupted start). Nothing to do: the run is over. */
  'POOL_SHUT_DOWN',

  // ---- the pool cannot serve now: maybe later, or with different settings ----
  /**
   * A low-priority request refused while the pool is degraded (queue, waits or failures over their thresholds).
   * It clears by itself; if it happens often, add containers or raise the resources.* thresholds.
   */
  'POOL_DEGRADED',
  /** Waiting + active requests reached resources.maxConcurrentAllocations. Raise the limit or run fewer workers. */
  'CONCURRENCY_LIMIT',
  /**
   * No container became free within the request's wait budget (its timeoutMs, resources.maxWaitTimeMs by default)
   * and its retries. Add containers, raise maxWaitTimeMs, or give the test a higher priority.
   */
  'ALLOCATION_TIMEOUT',
  /** The caller gave up (test ended, worker aborted) while its request waited. Nothing to do; not counted as a failure. */
  'ALLOCATION_CANCELLED',

  // ---- containers and leases ----
  /** No container with that id in this pool (a typo, or another pool's id). Use an id from the pool's status. */
  'UNKNOWN_CONTAINER',
  /** No lease with that id is known (never granted, or ended so long ago it was forgotten). Allocate again. */
  'UNKNOWN_LEASE',
  /**
   * The lease ran out before it was renewed or released, and its container was reclaimed. The holder's event
   * loop stalled or heartbeats failed: renew at a third of the TTL, or raise lease.ttlMs. Allocate again.
   */
  'LEASE_EXPIRED',
  /**
   * The fencing token does not hold the lease: it comes from an older or another holder's grant. Nothing changed;
   * the caller must stop using the container (it belongs to someone else now) and allocate again.
   */
  'STALE_TOKEN',
  /** The lease was already released (a second release or a renew after release). Usually harmless; allocate again to keep working. */
  'ALREADY_RELEASED',
  /** The lease ended because its container died or failed health checks. Allocate again; the container is being recovered. */
  'LEASE_REVOKED',
  /**
   * A container state change that is not allowed now: compare-and-set lost (someone moved it first), Allocated
   * entered or left other than through a lease, or a leased container reset directly. Re-read the state; do not force it.
   */
  'INVALID_TRANSITION',

  // ---- the pool's own parts failed ----
  /**
   * Stored pool state is unreadable or inconsistent (written by something else or another version; or resume()
   * found containers the store does not know). The message names the key; delete it or flush the prefix and restart.
   */
  'CORRUPT_STATE',
  /**
   * The store cannot be used: Redis is down or unreachable, the store was closed, or its Lua scripts are missing
   * from the install. Check REDIS_URL and that Redis runs, or reinstall the package; the memory store needs no set-up.
   */
  'STORE_UNAVAILABLE',
  /**
   * Redis refused a command, key or channel to the store's Redis user (an ACL NOPERM). The message names what was
   * refused: give the user the pool's rule, which `cinnamon-pool acl --prefix P` prints. Retrying will not help.
   */
  'STORE_PERMISSION_DENIED',
  /**
   * The container runtime (Docker or local processes) failed: daemon unreachable, image missing, start/exec/stop
   * failed. The message names the container and the operation; `cinnamon-pool doctor` checks the machine.
   */
  'RUNTIME_ERROR',
  /**
   * A container did not pass the start-up health gate (TCP → MCP → runtime state) in time. The message names the
   * container and stage: read its logs, or raise health.startupTimeoutMs on a slow machine.
   */
  'HEALTH_GATE_FAILED',
  /** A cleanup stage failed on a released container; the pool resets it next. The message names the stage and its fix. */
  'CLEANUP_FAILED',
  /** A reset strategy failed on a container; the pool escalates to the next one by itself, and quarantines after recovery fails. */
  'RESET_FAILED',
  /**
   * The coordinator (HTTP) cannot be reached, timed out, or answered something that is not its API. Check that the
   * run's globalSetup is running and the worker sees its CINNAMON_POOL_URL.
   */
  'COORDINATOR_UNAVAILABLE',

  // ---- a pool shared across machines (issue 11) ----
  /** Another live agent holds this host id. Stop it, wait for its host lease to run out, or use another --host-id. */
  'HOST_TAKEN',
  /**
   * A host agent wrote with an epoch that no longer holds its host lease (it was reaped, or a newer agent took the
   * host over): the write was refused. The agent stops serving and claims the host again.
   */
  'STALE_EPOCH',
  /** A shared pool has no live host: start `cinnamon-pool agent` on a machine with containers. */
  'NO_LIVE_HOST',
  /**
   * Another run holds this pool's warm members (option `reuse`, issue 13): two runs never share one warm pool.
   * The message names the holder's pid; wait for it, or run this one with another poolId and ports.
   */
  'WARM_POOL_BUSY',
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
