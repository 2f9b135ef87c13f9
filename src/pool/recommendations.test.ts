import { describe, expect, it } from 'vitest';
import { suggestTimeoutRaise } from './recommendations.js';

describe('suggestTimeoutRaise', () => {
  it('never suggests the value already set', () => {
    // The case a user saw: default 120 s, adaptive also ~120 s, cap 600 s.
    const raise = suggestTimeoutRaise(120_000, 120_000, 600_000);
    expect(raise).toEqual({ kind: 'default', toMs: 150_000 });
    for (const [current, wanted, max] of [
      [120_000, 119_000, 600_000],
      [120_000, 120_001, 600_000],
      [30_000, 10_000, 600_000],
      [1_000, 1_200, 600_000],
      [599_000, 700_000, 600_000],
    ] as const) {
      const r = suggestTimeoutRaise(current, wanted, max);
      expect(r.toMs, `${current}/${wanted}/${max}`).toBeGreaterThan(current);
      expect(r.toMs % 5_000).toBe(0);
    }
  });

  it('takes what the history asks for when it is more than a quarter up', () => {
    expect(suggestTimeoutRaise(60_000, 181_000, 600_000)).toEqual({ kind: 'default', toMs: 185_000 });
  });

  it('caps at maxTimeoutMs, and says to raise the max when the default already sits on it', () => {
    expect(suggestTimeoutRaise(100_000, 900_000, 300_000)).toEqual({ kind: 'default', toMs: 300_000 });
    expect(suggestTimeoutRaise(600_000, 650_000, 600_000)).toEqual({ kind: 'max', toMs: 750_000 });
    // 599 s and 600 s both print as "600 s": that is no visible raise either.
    expect(suggestTimeoutRaise(599_600, 600_000, 600_000).kind).toBe('max');
  });
});
