import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ownerFromLabels, runLabels } from './docker/docker-labels.js';
import { currentRunOwner, ownerAlive } from './run-owner.js';

describe('run owner (who vouches for a run)', () => {
  it('this process is alive; a finished one, a recycled pid and another host are not (or cannot be told)', () => {
    const me = currentRunOwner();
    expect(ownerAlive(me)).toBe(true);
    const child = spawnSync(process.execPath, ['-e', '0']);
    expect(ownerAlive({ host: me.host, pid: child.pid!, startTime: 1 })).toBe(false);
    if (me.startTime !== undefined) expect(ownerAlive({ ...me, startTime: me.startTime + 1 })).toBe(false);
    expect(ownerAlive({ ...me, host: `${me.host}-elsewhere` })).toBeUndefined();
  });

  it('round-trips through Docker labels; things made before owners were stamped have none', () => {
    const owner = currentRunOwner();
    const labels = runLabels({ poolId: 'p', runId: 'r' }, 'container-1', owner);
    expect(ownerFromLabels(labels)).toEqual(owner);
    expect(ownerFromLabels(runLabels({ poolId: 'p', runId: 'r' }))).toBeUndefined();
  });
});
