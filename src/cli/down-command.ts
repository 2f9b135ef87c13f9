import { readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SystemClock } from '../clock/clock.js';
import { isPoolError } from '../errors/pool-error.js';
import { acquireWarmLock } from '../coordinator/warm-pool-lock.js';
import { readWarmState, removeWarmState, WARM_STATE_FILE, WARM_LOCK_FILE } from '../coordinator/warm-pool-state.js';
import { reapLeftoverRuns } from '../runtime/process/leftover-reaper.js';
import { DEFAULT_SANDBOX_ROOT, poolDir } from '../runtime/process/sandbox-layout.js';
import { WARM_RUN_ID } from '../runtime/process/warm-members.js';
import { endAnyWarmMember, WARM_END_GRACE_MS as DOWN_GRACE_MS, warmDockerClient } from '../coordinator/warm-pool-members.js';

export interface DownCommand {
  kind: 'down';
  /** Only this pool's warm members; all of this machine's when absent. */
  poolId?: string;
}

export interface DownResult {
  /** One line per pool: what was stopped, or why not. */
  lines: string[];
  /** Pools a live run still holds (left alone). */
  busy: number;
}

/**
 * `cinnamon-pool down`: stops warm pools (option `reuse`, issue 13) on this machine: under the pool's lock (a
 * pool a live run holds is left alone and named), ends each member (guard and server, or its container and
 * network), reaps whatever else the
 * pool's runs left (by the sandbox marker), and removes the state. Nothing to stop is not an error.
 */
export async function stopWarmPools(options: { poolId?: string; sandboxRoot?: string } = {}): Promise<DownResult> {
  const root = options.sandboxRoot ?? DEFAULT_SANDBOX_ROOT;
  const folders = options.poolId ? [poolDir(root, options.poolId)] : await poolFolders(root);
  const lines: string[] = [];
  let busy = 0;
  for (const folder of folders) {
    const state = await readWarmState(join(folder, WARM_STATE_FILE));
    if (state === undefined) continue;
    const poolId = state === 'unreadable' ? folder : state.poolId;
    let lock;
    try {
      lock = await acquireWarmLock(join(folder, WARM_LOCK_FILE), poolId);
    } catch (error) {
      if (!isPoolError(error, 'WARM_POOL_BUSY')) throw error;
      busy++;
      lines.push(`warm pool '${poolId}' not stopped: a run uses it (pid ${String(error.data.holderPid)}); stop that run first`);
      continue;
    }
    try {
      const ended: string[] = [];
      if (state !== 'unreadable') {
        const docker = warmDockerClient();
        // Docker members: removed whether still running or exited (idle stop), with the warm pool's network.
        for (const member of state.members) ended.push(...(await endAnyWarmMember(member, () => docker)));
      }
      // The warm members' run folder is the lock holder's (no run can use it now), whoever its state file names.
      await rm(join(folder, WARM_RUN_ID), { recursive: true, force: true, maxRetries: 3 });
      const reaped = await reapLeftoverRuns(folder, DOWN_GRACE_MS, new SystemClock());
      await removeWarmState(join(folder, WARM_STATE_FILE));
      const what = ended.length ? ended.join(', ') : 'no member was still running';
      lines.push(`stopped warm pool '${poolId}': ${what}${reaped.length ? `; also removed ${reaped.length} leftover(s)` : ''}`);
    } finally {
      await lock.release();
    }
    // The pool's folder, once nothing of any run is left in it.
    await rmdir(folder).catch(() => undefined);
  }
  if (!lines.length) lines.push(options.poolId ? `no warm pool '${options.poolId}' on this machine: nothing to stop` : 'no warm pool on this machine: nothing to stop');
  return { lines, busy };
}

async function poolFolders(root: string): Promise<string[]> {
  try {
    return (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => join(root, e.name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
