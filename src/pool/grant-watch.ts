import type { Clock, TimerHandle } from '../clock/clock.js';
import type { Grant, PoolStore } from '../store/pool-store.js';

/**
 * @defaultValue 250 ms: how often a coordinator with requests waiting asks the store whether another
 * participant granted one of them. The fallback of the store's grant notices, which are at-most-once (a notice
 * published while the subscription's connection is down is lost): a grant is found at most this long after it
 * was made instead of at the request's deadline. One `grantsFor` call per period, and only while requests wait.
 */
export const DEFAULT_GRANT_POLL_MS = 250;

/** A store that announces grants as they are made (RedisPoolStore: pub/sub from the dispatch script). */
export interface GrantNotices {
  /** Calls `listener` with the request ids of each dispatch pass's grants; resolves to the unsubscribe function. */
  subscribeGrants(listener: (requestIds: string[]) => void): Promise<() => Promise<void>>;
}

/** The store's grant notices when it offers them (an optional capability: the memory store has none). */
export function grantNoticesOf(store: object): GrantNotices | undefined {
  const candidate = store as Partial<GrantNotices>;
  return typeof candidate.subscribeGrants === 'function' ? (candidate as GrantNotices) : undefined;
}

export interface GrantWatchDeps {
  store: Pick<PoolStore, 'grantsFor'>;
  clock: Clock;
  /** Request ids (one try each) waiting in this process now. */
  waitingIds: () => string[];
  /** Hands grants to the requests waiting here (AllocationQueue.deliver). */
  deliver: (grants: readonly Grant[]) => void;
  report: (error: unknown, context: string) => void;
  /** Absent: polling only. */
  notices?: GrantNotices;
  /** @defaultValue {@link DEFAULT_GRANT_POLL_MS} */
  pollMs?: number;
}

/**
 * Finds grants that another participant's dispatch made for requests waiting here (an agent's finished cleanup,
 * another shard's release or enqueue): this coordinator's own dispatch passes hand out only what they grant
 * themselves. On a store notice naming a request waited here, and every `pollMs` while any request waits, it
 * asks the store for those requests' grants and delivers them. Delivery is idempotent (a grant that reaches a
 * waiter twice resolves it once), so notices, polls and dispatch passes may overlap.
 */
export class GrantWatch {
  private readonly pollMs: number;
  private timer: TimerHandle | undefined;
  private running = false;
  private unsubscribe: Promise<(() => Promise<void>) | undefined> | undefined;
  private asking: Promise<void> | undefined;
  private askAgain = false;

  constructor(private readonly deps: GrantWatchDeps) {
    this.pollMs = deps.pollMs ?? DEFAULT_GRANT_POLL_MS;
  }

  /** Subscribes to the store's notices (a failure is reported; polling carries on) and polls while requests wait. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const { notices } = this.deps;
    if (notices) {
      this.unsubscribe = notices.subscribeGrants((ids) => this.onNotice(ids)).catch((error: unknown) => {
        this.deps.report(error, 'subscribe to grant notices (polling carries on)');
        return undefined;
      });
    }
    this.wake();
  }

  /** A request started waiting here: makes sure a poll is scheduled. */
  wake(): void {
    if (!this.running || this.timer) return;
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = undefined;
      if (!this.running) return;
      void this.ask().finally(() => {
        if (this.deps.waitingIds().length) this.wake();
      });
    }, this.pollMs);
  }

  /** Stops polling and ends the subscription. Safe to call twice. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const unsubscribe = await this.unsubscribe;
    this.unsubscribe = undefined;
    await unsubscribe?.().catch((error: unknown) => this.deps.report(error, 'unsubscribe from grant notices'));
  }

  private onNotice(requestIds: readonly string[]): void {
    if (!this.running) return;
    const waiting = new Set(this.deps.waitingIds());
    if (requestIds.some((id) => waiting.has(id))) void this.ask();
  }

  /** One `grantsFor` of every request waiting here; calls never overlap, and one asked during another runs after it. */
  private ask(): Promise<void> {
    if (this.asking) {
      this.askAgain = true;
      return this.asking;
    }
    const run = async () => {
      do {
        this.askAgain = false;
        const ids = this.deps.waitingIds();
        if (!ids.length) break;
        try {
          const grants = await this.deps.store.grantsFor(ids);
          if (grants.length) this.deps.deliver(grants);
        } catch (error) {
          this.deps.report(error, 'look up grants');
        }
      } while (this.askAgain && this.running);
    };
    // Cleared after the assignment: a pass that finds nothing to ask ends synchronously.
    const asking: Promise<void> = run().finally(() => {
      if (this.asking === asking) this.asking = undefined;
    });
    this.asking = asking;
    return this.asking;
  }
}
