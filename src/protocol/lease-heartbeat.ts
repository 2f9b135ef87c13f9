import { z } from 'zod';
import { parseOptions } from '../config/parse-options.js';
import { isPoolError, type PoolError, type PoolErrorCode } from '../errors/pool-error.js';
import type { LeaseRef } from '../pool/container-pool-manager.js';
import type { RenewResponse } from './coordinator-api.js';
import { callback } from '../config/injected.js';

/** Answers that mean the lease is gone for good; anything else (coordinator slow, Redis blip) is retried. */
const LOST_CODES: readonly PoolErrorCode[] = ['LEASE_REVOKED', 'LEASE_EXPIRED', 'STALE_TOKEN', 'UNKNOWN_LEASE', 'ALREADY_RELEASED', 'POOL_SHUT_DOWN'];

/**
 * By default a lease is renewed this many times per TTL (every third of it): a stall that starts just before a
 * beat still has two thirds of a TTL (10 s of the default 15 s) before the lease expires, and a failed beat is
 * retried once more before then.
 */
export const HEARTBEATS_PER_TTL = 3;
/** The default beat is never shorter than this, ms, however short the TTL (a test pool's TTL can be tiny). */
export const MIN_HEARTBEAT_MS = 50;

/** The beat of a lease with `ttlMs` when no interval is given: its TTL over {@link HEARTBEATS_PER_TTL}, at least {@link MIN_HEARTBEAT_MS}. */
export function defaultHeartbeatInterval(ttlMs: number): number {
  return Math.max(MIN_HEARTBEAT_MS, Math.floor(ttlMs / HEARTBEATS_PER_TTL));
}


export const heartbeatOptionsSchema = z
  .object({
    /** Time between renewals, ms. @defaultValue {@link defaultHeartbeatInterval} of the lease TTL */
    intervalMs: z.number().int().positive().optional(),
    /** Time to live each renewal asks for, ms; see {@link LeaseHeartbeat.requestTtl}. @defaultValue the pool's TTL */
    ttlMs: z.number().int().positive().optional(),
    /** After every successful renewal, with the `contended` flag. */
    onRenewed: callback<(response: RenewResponse) => void>().optional(),
    /** Once, when a renewal says the lease is gone. The heartbeat stops itself. */
    onLost: callback<(error: PoolError) => void>().optional(),
  })
  .strict();
export type HeartbeatOptions = z.input<typeof heartbeatOptionsSchema>;
export type HeartbeatConfig = z.output<typeof heartbeatOptionsSchema>;

/** Validates HeartbeatOptions (INVALID_OPTIONS listing every bad field). */
export function parseHeartbeatOptions(input: HeartbeatOptions | undefined): HeartbeatConfig {
  return parseOptions(heartbeatOptionsSchema, input, 'LeaseHeartbeat options');
}

export interface LeaseRenewer {
  renew(lease: LeaseRef, options?: { ttlMs?: number }): Promise<RenewResponse>;
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
  private ttlMs: number | undefined;
  private readonly options: HeartbeatConfig;
  /** Time between beats, ms. */
  readonly intervalMs: number;
  /**
   * performance.now() until which the lease is known to live: the grant's TTL from when the heartbeat started, then
   * each successful renewal's TTL from when its request was sent (the store counts from when it got it, later).
   */
  private confirmedUntil: number;

  constructor(
    private readonly client: LeaseRenewer,
    private readonly lease: LeaseRef & { ttlMs: number },
    options: HeartbeatOptions = {},
  ) {
    this.options = parseHeartbeatOptions(options);
    this.ttlMs = this.options.ttlMs;
    this.confirmedUntil = performance.now() + lease.ttlMs;
    this.intervalMs = this.options.intervalMs ?? defaultHeartbeatInterval(lease.ttlMs);
    this.timer = setInterval(() => this.beat(), this.intervalMs);
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

  /**
   * From now on every renewal asks for `ttlMs` (a worker being debugged asks for `lease.debugTtlMs`, so a
   * breakpoint that stops its event loop does not cost the lease). The beat keeps its pace; call renewNow()
   * to have the longer lease at once.
   */
  requestTtl(ttlMs: number): void {
    this.ttlMs = ttlMs;
  }

  /**
   * How long, ms, the lease is sure to live by the last renewal that succeeded (or the grant): ≤ 0 when it may have
   * expired since, e.g. while the coordinator did not answer.
   */
  confirmedMsLeft(): number {
    return this.confirmedUntil - performance.now();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private beat(): void {
    // A transient failure is retried at the next beat; two thirds of a TTL are left for it.
    this.renewOnce().catch(() => undefined);
  }

  private renewOnce(): Promise<RenewResponse | undefined> {
    if (this.stopped || this.lost) return Promise.resolve(undefined);
    // One renewal at a time: a boundary renewal joins the background one in flight.
    const sentAt = performance.now();
    this.inFlight ??= this.client
      .renew({ leaseId: this.lease.leaseId, token: this.lease.token }, this.ttlMs === undefined ? {} : { ttlMs: this.ttlMs })
      .then(
        (response) => {
          this.confirmedUntil = Math.max(this.confirmedUntil, sentAt + response.lease.ttlMs);
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

