import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { PoolError } from '../errors/pool-error.js';
import { HostLeaseKeeper } from './host-lease-keeper.js';
import { hostLeaseTimings } from './host-lease-policy.js';

const TTL = 9_000;
const t = hostLeaseTimings(TTL);

function setup(renew: () => Promise<unknown>) {
  const clock = new FakeClock();
  const calls: number[] = [];
  const fences: string[] = [];
  const keeper = new HostLeaseKeeper({
    ttlMs: TTL,
    clock,
    renew: () => (calls.push(clock.monotonic()), renew()),
    onFence: (why) => fences.push(why),
  });
  return { clock, calls, fences, keeper };
}

describe('HostLeaseKeeper', () => {
  it('fences when its deadline timer fires a little early and the renewal hangs (a dead link): it re-arms instead of serving on', async () => {
    const base = new FakeClock();
    // Node's timers may fire up to 1 ms before the monotonic deadline: a clock whose timers fire 0.5 ms early.
    const early = Object.assign(Object.create(base) as FakeClock, {
      setTimeout: (callback: () => void, ms: number) => base.setTimeout(callback, Math.max(0, ms - 0.5)),
    });
    const fences: string[] = [];
    let renewals = 0;
    const keeper = new HostLeaseKeeper({ ttlMs: TTL, clock: early, renew: () => (renewals++, new Promise<never>(() => undefined)), onFence: (why) => fences.push(why) });
    keeper.start(base.monotonic() + 0.3);
    await base.advance(TTL);
    expect(renewals).toBe(1); // the first renewal never answered
    expect(fences).toHaveLength(1);
    expect(fences[0]).toMatch(/no host lease renewal succeeded/);
    expect(keeper.fenced).toBe(true);
  });

  it('renews every third of the TTL while renewals succeed, and never fences', async () => {
    const { clock, calls, fences, keeper } = setup(async () => 0);
    keeper.start(clock.monotonic());
    await clock.advance(TTL * 4);
    expect(calls).toEqual(Array.from({ length: 12 }, (_, i) => (i + 1) * t.renewEveryMs));
    expect(fences).toEqual([]);
    await keeper.stop();
    await clock.advance(TTL);
    expect(calls).toHaveLength(12);
  });

  it('retries failed renewals and self-fences once, before the lease could expire, when none succeeds', async () => {
    let ok = true;
    const { clock, calls, fences, keeper } = setup(async () => {
      if (!ok) throw new PoolError('STORE_UNAVAILABLE', 'link down');
    });
    keeper.start(clock.monotonic());
    await clock.advance(t.renewEveryMs); // one success, sent at renewEveryMs
    const lastOk = calls.at(-1)!;
    ok = false;
    await clock.advance(TTL * 2);
    expect(fences).toHaveLength(1);
    expect(fences[0]).toMatch(/no host lease renewal succeeded/);
    // Retries were made between the last success and the fence, and none after it.
    const retries = calls.filter((at) => at > lastOk);
    expect(retries.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...retries)).toBeLessThan(lastOk + TTL - t.marginMs);
    expect(keeper.fenced).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('fences on its deadline even while a renewal hangs', async () => {
    const { clock, fences, keeper } = setup(() => new Promise(() => undefined));
    keeper.start(clock.monotonic());
    await clock.advance(t.fenceAfterMs - 1);
    expect(fences).toEqual([]);
    await clock.advance(1);
    expect(fences).toHaveLength(1);
  });

  it('fences at once on STALE_EPOCH from a renewal or from any write', async () => {
    const a = setup(async () => {
      throw new PoolError('STALE_EPOCH', 'host h1 epoch 2 is not current (3)');
    });
    a.keeper.start(a.clock.monotonic());
    await a.clock.advance(t.renewEveryMs);
    expect(a.fences).toEqual(["the store refused this agent's epoch (host h1 epoch 2 is not current (3))"]);

    const b = setup(async () => 0);
    b.keeper.start(b.clock.monotonic());
    b.keeper.staleEpoch('transition refused');
    b.keeper.staleEpoch('again');
    expect(b.fences).toEqual(["the store refused this agent's epoch (transition refused)"]);
  });
});
