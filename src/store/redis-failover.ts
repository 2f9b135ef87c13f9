import { PoolError } from '../errors/pool-error.js';
import type { Lease } from './pool-store.js';
import type { RedisScriptClient } from './redis-connection.js';
import type { RedisKeys } from './redis-keys.js';
import type { RedisRecordReader } from './redis-records.js';

/**
 * The highest pool epoch: tokens granted in epoch E are above E * 2^32 and below (E + 1) * 2^32, so with E at most
 * 2^14 - 1 every token stays below 2^46 < 10^14 — exact in the scripts' cjson (14 significant digits) and in
 * JavaScript numbers. 16383 master changes of one pool prefix is far beyond any real pool's life.
 */
export const MAX_POOL_EPOCH = 2 ** 14 - 1;
/** Tokens of pool epoch E start above E * TOKENS_PER_EPOCH. */
export const TOKENS_PER_EPOCH = 2 ** 32;

/** A change of Redis master this store detected (and the pool-epoch script acted on). */
export interface PoolFailover {
  /** The new pool epoch. */
  epoch: number;
  /** Run id of the master before (`''` when the new master had lost even that). */
  previousMaster: string;
  /** Run id of the master now. */
  master: string;
  /** The active leases the bump ended as 'revoked' (their tests re-queue; their containers go to Cleaning). */
  revoked: Lease[];
}

export type FailoverListener = (failover: PoolFailover) => void;

/**
 * Watches the Redis store's connection for a change of master (a Sentinel failover: a replica promoted): on every
 * 'ready' it reads the master's run id and whether it was promoted, and runs pool-epoch-9.lua, which bumps the
 * pool epoch when the master is new to this pool (see the script for what a bump does). A master restarted from
 * its own disk (new run id, never a replica, the pool's keys kept) is not a failover: leases carry on, as for a
 * Redis restart before epochs existed (use appendfsync always where a restart must lose nothing).
 * Commands flushed from ioredis' offline queue at reconnection can run before the check: a grant they make is
 * revoked by the bump like every other lease of the old epoch.
 */
export class RedisFailoverWatch {
  private readonly listeners = new Set<FailoverListener>();
  /** The highest epoch this store has seen: an epoch the new master lost is not handed out again. */
  private known = 0;
  /** Run id of the master this store checked last ('' before the first check). */
  private lastMaster = '';
  /** Removes the 'ready' listener (a connection the caller passed outlives the store). */
  readonly stopWatching: () => void;
  /** The check the last 'ready' started (settles, never rejects). */
  private latest: Promise<void> | undefined;

  constructor(
    private readonly client: RedisScriptClient,
    private readonly keys: RedisKeys,
    private readonly read: RedisRecordReader,
    private readonly endedLeaseTtlMs: number,
  ) {
    // The store's calls wait for the check (client.hold): none reaches a new master before its epoch is settled,
    // except what ioredis had queued while offline (sent at 'ready', before this listener runs). A failed check is
    // not lost: the next 'ready' or poolEpoch() checks again.
    const check = (): void => {
      this.latest = this.check().then(
        () => {},
        () => {},
      );
      client.hold(this.latest);
    };
    this.stopWatching = () => void client.redis.off('ready', check);
    client.redis.on('ready', check);
    if (client.redis.status === 'ready') check();
    // Not for a lazyConnect connection still waiting: it connects on its first command, which the hold would block.
    else if (client.redis.status !== 'end' && client.redis.status !== 'wait') client.hold(this.firstCheck());
  }

  /** Settles at the first check or when the connection fails (calls then fail as STORE_UNAVAILABLE, not hang). */
  private firstCheck(): Promise<void> {
    const redis = this.client.redis;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        for (const [event, fn] of handlers) redis.off(event, fn);
        resolve();
      };
      // Runs after the constructor's 'ready' listener (registered first), which started the check.
      const afterCheck = (): void => void (this.latest ?? Promise.resolve()).then(done);
      const handlers: Array<[string, () => void]> = [['ready', afterCheck], ['error', done], ['end', done]];
      for (const [event, fn] of handlers) redis.once(event, fn);
    });
  }

  /** The pool epoch on the current master, after checking (and if needed bumping) it. */
  async check(): Promise<number> {
    // INFO's default sections hold both: run_id (server) and master_replid2 (replication), set only on a master
    // that was promoted from a replica (a failover), all zeros on a master restarted from its own disk.
    const info = await this.client.call('poolEpoch', () => this.client.redis.info());
    const master = /^run_id:(\w+)/m.exec(info)?.[1];
    const promoted = /^master_replid2:(?!0+\s*$)\w+/m.test(info) ? '1' : '0';
    if (!master) throw new PoolError('STORE_UNAVAILABLE', `Redis answered INFO server without a run_id; the pool epoch (prefix '${this.keys.prefix}') cannot be checked.`);
    const k = this.keys;
    const [epoch, outcome, previousMaster, ...revokedRaw] = await this.client.run(
      'pool-epoch',
      [k.poolEpoch, k.poolEpochMaster, k.tokenSeq, k.leaseExpiry, k.containers, k.counters, k.leasePrefix, k.endedPrefix, k.grantPrefix],
      [master, 'redis', this.endedLeaseTtlMs, k.recycleChannel, this.known, MAX_POOL_EPOCH, this.lastMaster, promoted, k.revocationsChannel],
      { operation: 'poolEpoch' },
    );
    const now = Number(epoch);
    if (outcome === 'exhausted') {
      throw new PoolError(
        'CORRUPT_STATE',
        `The pool epoch of prefix '${k.prefix}' reached ${now}, the most its fencing tokens can carry (${MAX_POOL_EPOCH}): ` +
          `drain the pool and delete its keys (or use a new prefix) to start again at epoch 0.`,
        { prefix: k.prefix, epoch: now },
      );
    }
    this.known = Math.max(this.known, now);
    this.lastMaster = master;
    if (outcome === 'bumped') {
      const failover: PoolFailover = {
        epoch: now,
        previousMaster: String(previousMaster ?? ''),
        master,
        revoked: revokedRaw.map((raw) => this.read.lease(String(raw))),
      };
      for (const listener of [...this.listeners]) {
        try {
          listener(failover);
        } catch {
          // One listener's failure must not keep the others from hearing of the failover.
        }
      }
    }
    return now;
  }

  /** Calls `listener` for each failover this store detects; returns the function that stops it. */
  listen(listener: FailoverListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
}
