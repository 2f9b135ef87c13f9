import type { EndedLease, Lease, PoolStore } from '../store/pool-store.js';

/** A store that announces revocations as they are made (RedisPoolStore: pub/sub from the host-removal and pool-epoch scripts). */
export interface RevocationNotices {
  /** Calls `listener` with the lease ids each host removal or failover revoked; resolves to the unsubscribe function. */
  subscribeRevocations(listener: (leaseIds: string[]) => void): Promise<() => Promise<void>>;
}

/** The store's revocation notices when it offers them (an optional capability: the memory store has none). */
export function revocationNoticesOf(store: object): RevocationNotices | undefined {
  const candidate = store as Partial<RevocationNotices>;
  return typeof candidate.subscribeRevocations === 'function' ? (candidate as RevocationNotices) : undefined;
}

/**
 * @defaultValue 1000: how many told revocations are remembered so a second path (this shard's own reap, a
 * notice for the same lease) does not tell a holder twice. Each lease id is told once, within moments of the
 * first telling; older ids fall out first.
 */
export const TOLD_REVOCATIONS_KEPT = 1000;

export interface RevocationWatchDeps {
  store: Pick<PoolStore, 'getEndedLease'>;
  /** Tells the holder (ContainerPoolManager emits 'leaseRevoked': the lease event stream, audit, metrics). */
  tell: (lease: Lease, reason: string) => void;
  report: (error: unknown, context: string) => void;
  /** Absent: nothing to hear; holders learn at their next renewal. */
  notices?: RevocationNotices;
}

/**
 * Tells the holders of leases granted here, at once, that another participant revoked them: a host agent's
 * sweep reaped their member's host (host-lost), a restarted agent replaced it, or a Redis failover ended the old
 * master's leases. Without this a holder learns only at its next renewal (LEASE_REVOKED), and a test keeps
 * failing against a dead member in between. Notices are at-most-once: the renewal stays the fallback.
 *
 * Also the one gate every revocation told here passes (firstTelling), so a lease is told once whichever path
 * found it first.
 */
export class RevocationWatch {
  private readonly held = new Set<string>();
  private readonly told = new Set<string>();
  private running = false;
  private unsubscribe: Promise<(() => Promise<void>) | undefined> | undefined;

  constructor(private readonly deps: RevocationWatchDeps) {}

  /** Subscribes to the store's notices (a failure is reported; renewals still find revocations). */
  start(): void {
    if (this.running) return;
    this.running = true;
    const { notices } = this.deps;
    if (!notices) return;
    this.unsubscribe = notices.subscribeRevocations((ids) => void this.onNotice(ids)).catch((error: unknown) => {
      this.deps.report(error, 'subscribe to revocation notices (renewals still find them)');
      return undefined;
    });
  }

  /** Ends the subscription. Safe to call twice. */
  async stop(): Promise<void> {
    this.running = false;
    const unsubscribe = await this.unsubscribe;
    this.unsubscribe = undefined;
    await unsubscribe?.().catch((error: unknown) => this.deps.report(error, 'unsubscribe from revocation notices'));
  }

  /** A lease was granted to a holder here. */
  granted(leaseId: string): void {
    this.held.add(leaseId);
  }

  /** A lease granted here ended otherwise (released, expired). */
  ended(leaseId: string): void {
    this.held.delete(leaseId);
  }

  /** True the first time a lease's revocation is told here; false after (the caller then stays silent). */
  firstTelling(leaseId: string): boolean {
    this.held.delete(leaseId);
    if (this.told.has(leaseId)) return false;
    this.told.add(leaseId);
    if (this.told.size > TOLD_REVOCATIONS_KEPT) this.told.delete(this.told.values().next().value!);
    return true;
  }

  /** Leases granted here and not known to have ended. */
  get heldCount(): number {
    return this.held.size;
  }

  private async onNotice(leaseIds: readonly string[]): Promise<void> {
    for (const id of leaseIds) {
      if (!this.running || !this.held.has(id)) continue;
      let ended: EndedLease | undefined;
      try {
        ended = await this.deps.store.getEndedLease(id);
      } catch (error) {
        this.deps.report(error, `read how lease ${id} ended (its holder learns at its next renewal)`);
        continue;
      }
      if (ended?.reason !== 'revoked' || !this.held.has(id)) continue;
      this.deps.tell(ended.lease, revocationReason(ended));
    }
  }
}

/** What a holder is told: the store's own words for a host loss or a failover, else that its member failed. */
export function revocationReason(ended: Pick<EndedLease, 'error'>): string {
  return ended.error ?? 'its container failed and the pool took it back';
}
