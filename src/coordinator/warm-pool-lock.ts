import { link, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { PoolError } from '../errors/pool-error.js';
import { currentRunOwner, ownerAlive, type RunOwner } from '../runtime/run-owner.js';

const holderSchema = z.object({
  host: z.string(),
  pid: z.number().int().positive(),
  startTime: z.number().int().nonnegative().optional(),
  acquiredAt: z.string(),
});
/** Who holds a warm pool: a run's process (pid plus start time, so a recycled pid does not pass for it). */
export type LockHolder = z.output<typeof holderSchema>;

export type LockDecision = { action: 'acquire' } | { action: 'take-over'; stale: LockHolder | undefined } | { action: 'refuse'; holder: LockHolder };

/**
 * What to do about a warm pool's lock file. `existing`: missing (undefined), unreadable ('unreadable': written
 * half by a process that crashed; the lock is written whole through a link, so a live holder never leaves one),
 * or its holder. `alive`: whether that holder runs (undefined: another host's, which cannot be checked — refused,
 * as if alive: better a clear error than two runs on one pool).
 */
export function lockDecision(existing: LockHolder | 'unreadable' | undefined, alive: (holder: LockHolder) => boolean | undefined): LockDecision {
  if (existing === undefined) return { action: 'acquire' };
  if (existing === 'unreadable') return { action: 'take-over', stale: undefined };
  return alive(existing) === false ? { action: 'take-over', stale: existing } : { action: 'refuse', holder: existing };
}

/** The error a run gets when another run holds the warm pool: who, since when, and what to do. */
export function warmPoolBusyError(poolId: string, holder: LockHolder, lockPath: string): PoolError {
  return new PoolError(
    'WARM_POOL_BUSY',
    `The warm pool '${poolId}' is in use by another run (pid ${holder.pid} on ${holder.host}, since ${holder.acquiredAt}; lock ${lockPath}): ` +
      'two runs never share one warm pool. Wait for that run to end (or stop it: kill ' +
      `${holder.pid}), or run this one without reuse (${'CINNAMON_POOL_REUSE'}=0) under another poolId and basePort.`,
    { poolId, holderPid: holder.pid, holderHost: holder.host, lockPath },
  );
}

export interface HeldLock {
  readonly path: string;
  readonly holder: LockHolder;
  /** What was taken over, when the earlier holder had died. */
  readonly tookOverFrom: LockHolder | 'unreadable' | undefined;
  /** Removes the lock if it is still this process's. Safe to call twice. */
  release(): Promise<void>;
}

/**
 * Takes the lock of a warm pool (file `path`, mode 600, JSON {host, pid, startTime, acquiredAt}). Written to a
 * temporary file first and linked into place, so the lock appears whole or not at all and two runs cannot both
 * create it. A dead holder's lock is taken over; a live one's is refused with WARM_POOL_BUSY.
 */
export async function acquireWarmLock(path: string, poolId: string, now: Date = new Date(), owner: RunOwner = currentRunOwner()): Promise<HeldLock> {
  const holder: LockHolder = { host: owner.host, pid: owner.pid, ...(owner.startTime === undefined ? {} : { startTime: owner.startTime }), acquiredAt: now.toISOString() };
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(holder)}\n`, { mode: 0o600 });
  let tookOverFrom: LockHolder | 'unreadable' | undefined;
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(temporary, path);
        return heldLock(path, holder, tookOverFrom);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const existing = await readHolder(path);
      const decision = lockDecision(existing, (h) => ownerAlive(h));
      if (decision.action === 'refuse') throw warmPoolBusyError(poolId, decision.holder, path);
      if (decision.action === 'take-over') {
        tookOverFrom = existing;
        // Moved aside rather than removed: of two runs taking over at once, only one moves the stale file.
        await rename(path, `${path}.stale.${process.pid}`).catch(() => undefined);
        await rm(`${path}.stale.${process.pid}`, { force: true });
      }
    }
    throw new PoolError('RUNTIME_ERROR', `Could not take the warm pool lock ${path}: other runs kept taking it.`, { operation: 'warm-lock', path });
  } finally {
    await rm(temporary, { force: true });
  }
}

/** The lock's holder; 'unreadable' for a torn or foreign file; undefined when there is none. */
export async function readHolder(path: string): Promise<LockHolder | 'unreadable' | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return 'unreadable';
  }
  try {
    const parsed = holderSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

function heldLock(path: string, holder: LockHolder, tookOverFrom: LockHolder | 'unreadable' | undefined): HeldLock {
  let released: Promise<void> | undefined;
  return {
    path,
    holder,
    tookOverFrom,
    release: () =>
      (released ??= (async () => {
        const current = await readHolder(path);
        if (current !== 'unreadable' && current?.pid === holder.pid && current.acquiredAt === holder.acquiredAt) await rm(path, { force: true });
      })()),
  };
}
