import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';
import { sleepOn, withinBudget } from './clock-wait.js';
import { FakeClock } from './fake-clock.js';

describe('clock helpers', () => {
  it('sleepOn ends when the fake clock passes the delay, not before', async () => {
    const clock = new FakeClock();
    let done = false;
    const sleeping = sleepOn(clock, 100).then(() => (done = true));
    await clock.advance(99);
    expect(done).toBe(false);
    await clock.advance(1);
    await sleeping;
    expect(done).toBe(true);
  });

  it('sleepOn on the system clock keeps a process with nothing else pending alive until it wakes', () => {
    // The process runtime's start waits for a busy port this way in a globalSetup process that has nothing
    // else pending; an unref'd timer let that process exit 0 in the middle of the wait.
    const here = import.meta.dirname;
    const script =
      `import { sleepOn } from ${JSON.stringify(`${here}/clock-wait.ts`)}; import { SystemClock } from ${JSON.stringify(`${here}/clock.ts`)};` +
      ` await sleepOn(new SystemClock(), 50); process.stdout.write('woke');`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(out).toBe('woke');
  });

  it('withinBudget rejects with the given error once the budget passes, and passes a settled value through', async () => {
    const clock = new FakeClock();
    const never = new Promise<string>(() => undefined);
    const late = withinBudget(clock, never, 50, () => new Error('budget spent'));
    const settled = expect(late).rejects.toThrow('budget spent');
    await clock.advance(50);
    await settled;
    await expect(withinBudget(clock, Promise.resolve('ok'), 50, () => new Error('no'))).resolves.toBe('ok');
  });

  it('backoffDelay doubles from the first delay and stops at the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, 50, 1_000))).toEqual([50, 100, 200, 400, 800, 1_000, 1_000]);
  });
});
