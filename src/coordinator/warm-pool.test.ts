import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { optionsRefusal } from '../../test/support/options-refusal.js';
import { isPoolError } from '../errors/pool-error.js';
import type { WarmMember } from '../runtime/process/warm-members.js';
import { parseContainerPoolOptions } from './container-pool-options.js';
import { fingerprintChanges, fingerprintOf, fingerprintParts, type FingerprintInput } from './warm-pool-fingerprint.js';
import { acquireWarmLock, lockDecision, readHolder, type LockHolder } from './warm-pool-lock.js';
import { resolveReuse, ReuseEnvError } from './warm-pool-options.js';
import { planAdoption } from './warm-pool-adoption.js';
import type { WarmState } from './warm-pool-state.js';

describe('resolveReuse: option, CINNAMON_POOL_REUSE and CI', () => {
  it('is off by default and on with the option outside CI', () => {
    expect(resolveReuse(undefined, {}).on).toBe(false);
    expect(resolveReuse(true, {})).toEqual({ on: true, why: 'option reuse: true' });
  });

  it('is off under CI even with the option, unless the variable asks for it', () => {
    const ci = resolveReuse(true, { CI: 'true' });
    expect(ci.on).toBe(false);
    expect(ci.why).toContain('CINNAMON_POOL_REUSE=1');
    expect(resolveReuse(true, { CI: 'true', CINNAMON_POOL_REUSE: '1' }).on).toBe(true);
    expect(resolveReuse(true, { CI: 'false' }).on).toBe(true);
  });

  it('the variable overrides the option both ways', () => {
    expect(resolveReuse(undefined, { CINNAMON_POOL_REUSE: 'true' }).on).toBe(true);
    expect(resolveReuse(true, { CINNAMON_POOL_REUSE: '0' })).toEqual({ on: false, why: 'CINNAMON_POOL_REUSE=0' });
  });

  it('a value that is neither on nor off is an error naming the variable', () => {
    expect(() => resolveReuse(true, { CINNAMON_POOL_REUSE: 'maybe' })).toThrow(ReuseEnvError);
    expect(() => resolveReuse(true, { CINNAMON_POOL_REUSE: 'maybe' })).toThrow(/CINNAMON_POOL_REUSE="maybe"/);
  });
});

describe('withContainerPool options: reuse', () => {
  it('takes reuse and reuseIdleMs', () => {
    expect(parseContainerPoolOptions({ reuse: true, reuseIdleMs: 120_000 }, {}).plugin).toMatchObject({ reuse: true, reuseIdleMs: 120_000 });
  });

  it('refuses a bad idle time, a bad variable and reuse with mode shared, all in one INVALID_OPTIONS', () => {
    const error = optionsRefusal(() =>
      parseContainerPoolOptions({ reuse: true, reuseIdleMs: 5, mode: 'shared', redisUrl: 'redis://127.0.0.1:6390' }, {}),
    );
    expect(error.data.problems).toEqual([expect.stringMatching(/^reuseIdleMs: /)]);
    const shared = optionsRefusal(() => parseContainerPoolOptions({ reuse: true, mode: 'shared', redisUrl: 'redis://127.0.0.1:6390' }, {}));
    expect(shared.message).toMatch(/reuse \(option reuse: true\) keeps this machine's own members warm; mode 'shared'/);
    const variable = optionsRefusal(() => parseContainerPoolOptions({}, { CINNAMON_POOL_REUSE: 'yes please' }));
    expect(variable.message).toContain('CINNAMON_POOL_REUSE="yes please"');
  });

  it('refuses an idle time the health checks would not keep a member in use above', () => {
    const error = optionsRefusal(() => parseContainerPoolOptions({ reuseIdleMs: 50_000, health: { healthCheckIntervalMs: 30_000 } }, {}));
    expect(error.message).toMatch(/reuseIdleMs \(50000\) must be more than twice health.healthCheckIntervalMs \(30000\)/);
  });

  it("mode 'shared' under CI with reuse in the config is fine: reuse is off there", () => {
    expect(parseContainerPoolOptions({ reuse: true, mode: 'shared', redisUrl: 'redis://127.0.0.1:6390' }, { CI: '1' }).plugin.mode).toBe('shared');
  });
});

const INPUT: FingerprintInput = {
  runtime: 'process',
  poolId: 'p',
  members: [
    { id: 'container-1', name: 'p-1', port: 3001, limits: { memoryMB: 512, cpuPercent: 50 } },
    { id: 'container-2', name: 'p-2', port: 3002, limits: { memoryMB: 512, cpuPercent: 50 } },
  ],
  mcpServer: { webmcp: false },
  packageVersion: '0.1.0',
  node: '/usr/bin/node v20',
  idleMs: 60_000,
};

describe('warm pool fingerprint', () => {
  it('is the same for the same pool, whatever the key order', () => {
    const reordered = { ...INPUT, members: INPUT.members.map((m) => ({ limits: { cpuPercent: 50, memoryMB: 512 }, port: m.port, name: m.name, id: m.id })) };
    expect(fingerprintOf(fingerprintParts(reordered))).toBe(fingerprintOf(fingerprintParts(INPUT)));
    expect(fingerprintOf(fingerprintParts(INPUT))).toMatch(/^[0-9a-f]{16}$/);
  });

  it('changes with a port, the count, the MCP options or the version, and says which part changed', () => {
    const base = fingerprintParts(INPUT);
    const variants: FingerprintInput[] = [
      { ...INPUT, members: [INPUT.members[0]!, { ...INPUT.members[1]!, port: 3003 }] },
      { ...INPUT, members: [INPUT.members[0]!] },
      { ...INPUT, mcpServer: { webmcp: true } },
      { ...INPUT, packageVersion: '0.2.0' },
    ];
    for (const variant of variants) expect(fingerprintOf(fingerprintParts(variant))).not.toBe(fingerprintOf(base));
    expect(fingerprintChanges(base, fingerprintParts(variants[0]!))).toEqual([expect.stringMatching(/^members: .*p-2@3002.* → .*p-2@3003/)]);
    expect(fingerprintChanges(base, fingerprintParts(variants[3]!))).toEqual(['packageVersion: 0.1.0 → 0.2.0']);
    expect(fingerprintChanges(base, base)).toEqual([]);
  });
});

const HOLDER: LockHolder = { host: 'h', pid: 4242, startTime: 7, acquiredAt: '2026-12-02T10:00:00.000Z' };

describe('lockDecision', () => {
  it('acquires a missing lock, takes over a dead holder or a torn file, refuses a live or unknown one', () => {
    expect(lockDecision(undefined, () => true)).toEqual({ action: 'acquire' });
    expect(lockDecision(HOLDER, () => false)).toEqual({ action: 'take-over', stale: HOLDER });
    expect(lockDecision('unreadable', () => true)).toEqual({ action: 'take-over', stale: undefined });
    expect(lockDecision(HOLDER, () => true)).toEqual({ action: 'refuse', holder: HOLDER });
    // Another host's holder cannot be checked from here: refused, never shared.
    expect(lockDecision(HOLDER, () => undefined)).toEqual({ action: 'refuse', holder: HOLDER });
  });
});

describe('acquireWarmLock (a real file in a temporary folder)', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cqa-lock-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the holder with mode 600 and releases only its own lock', async () => {
    const path = join(dir, 'warm-pool.lock');
    const lock = await acquireWarmLock(path, 'p');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readHolder(path)).toMatchObject({ pid: process.pid, host: hostname() });
    await lock.release();
    await expect(stat(path)).rejects.toThrow();
  });

  it('refuses while a live run holds it, naming its pid and the fix, and leaves the lock as it was', async () => {
    const path = join(dir, 'warm-pool.lock');
    const first = await acquireWarmLock(path, 'p');
    const before = await readFile(path, 'utf8');
    const error = await acquireWarmLock(path, 'p').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isPoolError(error, 'WARM_POOL_BUSY')).toBe(true);
    expect((error as Error).message).toMatch(new RegExp(`pid ${process.pid} .*Wait for that run to end`));
    expect(await readFile(path, 'utf8')).toBe(before);
    await first.release();
  });

  it("takes over a dead run's lock and says whose it was", async () => {
    const path = join(dir, 'warm-pool.lock');
    // A pid with a start time no process has: the holder is gone.
    const dead: LockHolder = { host: hostname(), pid: process.pid, startTime: 1, acquiredAt: '2026-01-01T00:00:00.000Z' };
    await writeFile(path, JSON.stringify(dead), { mode: 0o600 });
    const lock = await acquireWarmLock(path, 'p');
    expect(lock.tookOverFrom).toEqual(dead);
    expect(await readHolder(path)).toMatchObject({ pid: process.pid, acquiredAt: lock.holder.acquiredAt });
    await lock.release();
  });
});

const member = (id: string, pid: number): WarmMember => ({
  containerId: id,
  port: 3000 + pid,
  serverPort: 40000 + pid,
  server: { pid, startTime: 1 },
  guard: { pid: pid + 100, startTime: 1 },
  sandboxDir: `/tmp/x/${id}`,
});

function state(fingerprint: string, members: WarmMember[]): Extract<WarmState, { runtime: 'process' }> {
  return { version: 1, poolId: 'p', runtime: 'process', fingerprint, parts: { a: '1' }, savedAt: 'now', leftBy: 1, idleMs: 1000, members };
}

describe('planAdoption', () => {
  const current = { fingerprint: 'f1', parts: { a: '1' }, memberIds: ['container-1', 'container-2'] };

  it('adopts the live members of a pool with the same fingerprint, starts the dead ones anew', () => {
    const plan = planAdoption(state('f1', [member('container-1', 1), member('container-2', 2)]), current, (m) => m.server.pid === 1);
    expect([...plan.adopt.keys()]).toEqual(['container-1']);
    expect(plan.discard).toEqual([]);
    expect(plan.note).toContain('container-2 no longer running');
  });

  it('adopts nothing and ends every member when the fingerprint changed, saying what changed', () => {
    const plan = planAdoption(state('f0', [member('container-1', 1)]), { ...current, parts: { a: '2' } }, () => true);
    expect(plan.adopt.size).toBe(0);
    expect(plan.discard.map((m) => m.containerId)).toEqual(['container-1']);
    expect(plan.note).toContain('its configuration changed (a: 1 → 2)');
  });

  it('ends a member this pool no longer has', () => {
    const plan = planAdoption(state('f1', [member('container-1', 1), member('container-9', 9)]), current, () => true);
    expect([...plan.adopt.keys()]).toEqual(['container-1']);
    expect(plan.discard.map((m) => m.containerId)).toEqual(['container-9']);
  });

  it('takes over without a cleanup only the adopted members the last run left clean', () => {
    const members = [member('container-1', 1), member('container-2', 2), member('container-9', 9)];
    // container-1 left clean and alive; container-2 not clean (held at the end); container-9 clean but not this pool's.
    const plan = planAdoption({ ...state('f1', members), clean: ['container-1', 'container-9'] }, current, () => true);
    expect([...plan.adopt.keys()]).toEqual(['container-1', 'container-2']);
    expect([...plan.clean]).toEqual(['container-1']);
    // Dead, though left clean: started anew, so nothing to take over clean.
    expect([...planAdoption({ ...state('f1', members), clean: ['container-1'] }, current, (m) => m.server.pid !== 1).clean]).toEqual([]);
    // Another configuration: nothing is taken over, clean or not.
    expect(planAdoption({ ...state('f0', members), clean: ['container-1'] }, current, () => true).clean.size).toBe(0);
    // A state without the list (an older version of it): every adopted member is cleaned.
    expect(planAdoption(state('f1', members), current, () => true).clean.size).toBe(0);
  });

  it('adopts nothing without a state or with an unreadable one', () => {
    expect(planAdoption(undefined, current, () => true).adopt.size).toBe(0);
    expect(planAdoption('unreadable', current, () => true).note).toContain('could not be read');
  });
});
