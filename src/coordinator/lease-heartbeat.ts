import { isPoolError, type PoolError, type PoolErrorCode } from '../errors/pool-error.js';
import type { LeaseRef } from '../pool/container-pool-manager.js';
import type { RenewResponse } from './coordinator-protocol.js';

/** Answers that mean the lease is gone for good; anything else (coordinator slow, Redis blip) is retried. */
const LOST_CODES: readonly PoolErrorCode[] = ['LEASE_REVOKED', 'LEASE_EXPIRED', 'STALE_TOKEN', 'UNKNOWN_LEASE', 'ALREADY_RELEASED', 'POOL_SHUT_DOWN'];

export interface HeartbeatOptions {
  /** Time between renewals. @defaultValue half the lease TTL (a missed beat still leaves half a TTL) */
  intervalMs?: number;
  /** After every successful renewal, with the `contended` flag. */
  onRenewed?: (response: RenewResponse) => void;
  /** Once, when a renewal says the lease is gone. The heartbeat stops itself. */
  onLost?: (error: PoolError) => void;
}

export interface LeaseRenewer {
  renew(lease: LeaseRef): Promise<RenewResponse>;
}

/**
 * Renews a lease in the background so a long test never loses its container, and keeps the latest
 * `contended` flag for the holder to act on at its next test boundary.
 */
export class LeaseHeartbeat {
  /** The last renewal said a request of equal or higher priority is waiting. */
  contended = false;
  /** Why the lease is gone, once it is. */
  lost: PoolError | undefined;
  private readonly timer: NodeJS.Timeout;
  private inFlight: Promise<RenewResponse | undefined> | undefined;
  private stopped = false;

  constructor(
    private readonly client: LeaseRenewer,
    private readonly lease: LeaseRef & { ttlMs: number },
    private readonly options: HeartbeatOptions = {},
  ) {
    const interval = options.intervalMs ?? Math.max(50, Math.floor(lease.ttlMs / 2));
    this.timer = setInterval(() => this.beat(), interval);
    // The heartbeat must never be what keeps a finished worker alive.
    this.timer.unref();
  }

  /**
   * Renews at once (a test boundary wants a fresh `contended`). Undefined when the lease is lost (see
   * `lost`); a transient failure (coordinator unreachable) is thrown.
   */
  renewNow(): Promise<RenewResponse | undefined> {
    return this.renewOnce();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private beat(): void {
    // A transient failure is retried at the next beat; half a TTL is left for it.
    this.renewOnce().catch(() => undefined);
  }

  private renewOnce(): Promise<RenewResponse | undefined> {
    if (this.stopped || this.lost) return Promise.resolve(undefined);
    // One renewal at a time: a boundary renewal joins the background one in flight.
    this.inFlight ??= this.client
      .renew({ leaseId: this.lease.leaseId, token: this.lease.token })
      .then(
        (response) => {
          this.contended = response.contended;
          this.options.onRenewed?.(response);
          return response;
        },
        (error: unknown) => {
          if (isPoolError(error) && LOST_CODES.includes(error.code)) {
            this.lost = error;
            this.stop();
            this.options.onLost?.(error);
            return undefined;
          }
          throw error;
        },
      )
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }
}

