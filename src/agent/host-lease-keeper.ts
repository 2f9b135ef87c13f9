import type { Clock, TimerHandle } from '../clock/clock.js';
import { isPoolError } from '../errors/pool-error.js';
import { hostLeaseTimings, hostLeaseVerdict } from './host-lease-policy.js';

export interface HostLeaseKeeperOptions {
  /** Host lease TTL, ms (what the claim and every renewal ask for). */
  ttlMs: number;
  /** One renewal (HostRegistry.renew for this host and epoch); rejects STALE_EPOCH once the host is not ours. */
  renew: () => Promise<unknown>;
  clock: Clock;
  /** Called once, when the agent must stop serving its members (host-lease-policy.ts says when). */
  onFence: (why: string) => void;
  /** A renewal failed (it is retried): for the agent's log. */
  onRenewFailure?: (error: unknown) => void;
}

/**
 * Keeps one epoch's host lease: renews it every ttl/3 (failed renewals every ttl/12) and fences the agent when
 * the policy says so — no renewal succeeded for ttl − margin, or the store refused the epoch (STALE_EPOCH from a
 * renewal or, through {@link staleEpoch}, from any write). One keeper per epoch: after a fence the agent claims
 * the host again and starts a new one.
 */
export class HostLeaseKeeper {
  private readonly timings;
  private lastSentOk = 0;
  private renewTimer: TimerHandle | undefined;
  private fenceTimer: TimerHandle | undefined;
  private state: 'new' | 'running' | 'fenced' | 'stopped' = 'new';
  private inFlight: Promise<void> | undefined;

  constructor(private readonly options: HostLeaseKeeperOptions) {
    this.timings = hostLeaseTimings(options.ttlMs);
  }

  /** True once the keeper fenced (the agent must not serve on this epoch any more). */
  get fenced(): boolean {
    return this.state === 'fenced';
  }

  /** Starts renewing. `claimSentAt`: monotonic ms the claim that took this epoch was sent. */
  start(claimSentAt: number): void {
    if (this.state !== 'new') return;
    this.state = 'running';
    this.lastSentOk = claimSentAt;
    this.armFence();
    this.schedule(this.timings.renewEveryMs - (this.options.clock.monotonic() - claimSentAt));
  }

  /** A write of this epoch was refused STALE_EPOCH: fence now. */
  staleEpoch(why: string): void {
    this.decide(why);
  }

  /** Stops renewing (drain, leave). Does not fence. Waits for a renewal in flight. */
  async stop(): Promise<void> {
    if (this.state === 'running' || this.state === 'new') this.state = 'stopped';
    this.clearTimers();
    await this.inFlight;
  }

  private schedule(delayMs: number): void {
    if (this.state !== 'running') return;
    if (this.renewTimer) this.options.clock.clearTimeout(this.renewTimer);
    this.renewTimer = this.options.clock.setTimeout(() => {
      this.renewTimer = undefined;
      this.inFlight = this.renewOnce();
    }, Math.max(0, delayMs));
  }

  private async renewOnce(): Promise<void> {
    const sentAt = this.options.clock.monotonic();
    try {
      await this.options.renew();
      if (this.state !== 'running') return;
      this.lastSentOk = Math.max(this.lastSentOk, sentAt);
      this.armFence();
      this.schedule(this.timings.renewEveryMs);
    } catch (error) {
      if (this.state !== 'running') return;
      if (isPoolError(error, 'STALE_EPOCH')) {
        this.decide(error.message);
        return;
      }
      this.options.onRenewFailure?.(error);
      if (!this.decide()) this.schedule(this.timings.retryEveryMs);
    }
  }

  /** The deadline has its own timer: a renewal that hangs must not keep the agent serving. */
  private armFence(): void {
    if (this.fenceTimer) this.options.clock.clearTimeout(this.fenceTimer);
    const verdict = hostLeaseVerdict({ ttlMs: this.options.ttlMs, lastSentOk: this.lastSentOk, now: this.options.clock.monotonic() });
    if (verdict.action === 'self-fence') {
      this.decide();
      return;
    }
    this.fenceTimer = this.options.clock.setTimeout(() => {
      this.fenceTimer = undefined;
      // Node's timers can fire up to a millisecond before the monotonic deadline (libuv keeps whole ms): then the
      // policy still says serve, and without a new timer a renewal hanging on a dead link would never fence.
      if (!this.decide() && this.state === 'running') this.armFence();
    }, Math.ceil(verdict.fenceAt - this.options.clock.monotonic()), { keepAlive: true });
  }

  /** Applies the policy; fences (once) when it says so. Returns true when fenced. */
  private decide(staleEpoch?: string): boolean {
    if (this.state !== 'running') return this.state === 'fenced';
    const verdict = hostLeaseVerdict({ ttlMs: this.options.ttlMs, lastSentOk: this.lastSentOk, now: this.options.clock.monotonic(), ...(staleEpoch !== undefined ? { staleEpoch } : {}) });
    if (verdict.action === 'serve') return false;
    this.state = 'fenced';
    this.clearTimers();
    this.options.onFence(verdict.why);
    return true;
  }

  private clearTimers(): void {
    if (this.renewTimer) this.options.clock.clearTimeout(this.renewTimer);
    if (this.fenceTimer) this.options.clock.clearTimeout(this.fenceTimer);
    this.renewTimer = this.fenceTimer = undefined;
  }
}
