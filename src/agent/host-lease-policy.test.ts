import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hostLeaseTimings, hostLeaseVerdict } from './host-lease-policy.js';

describe('host lease policy (self-fencing, issue 11)', () => {
  it('renews every third of the TTL and stops serving one renew interval before the lease could expire', () => {
    expect(hostLeaseTimings(10_000)).toEqual({ renewEveryMs: 3333, retryEveryMs: 833, marginMs: 3333, fenceAfterMs: 6667 });
  });

  it('serves until lastSentOk + ttl - margin and self-fences from then on, always before the lease could expire', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1_500, max: 600_000 }), fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 0, max: 1_200_000 }), (ttlMs, lastSentOk, elapsed) => {
        const t = hostLeaseTimings(ttlMs);
        const verdict = hostLeaseVerdict({ ttlMs, lastSentOk, now: lastSentOk + elapsed });
        // The lease cannot expire before lastSentOk + ttl; the agent never serves past lastSentOk + ttl - margin.
        expect(t.fenceAfterMs + t.marginMs).toBe(ttlMs);
        expect(t.marginMs).toBeGreaterThanOrEqual(t.retryEveryMs * 2);
        // A renewal scheduled after the last success and two retries all fall before the deadline.
        expect(t.renewEveryMs + 2 * t.retryEveryMs).toBeLessThan(t.fenceAfterMs);
        if (elapsed < t.fenceAfterMs) expect(verdict).toEqual({ action: 'serve', fenceAt: lastSentOk + t.fenceAfterMs });
        else expect(verdict).toMatchObject({ action: 'self-fence', why: expect.stringMatching(/no host lease renewal succeeded/) });
      }),
    );
  });

  it('self-fences at once on STALE_EPOCH, however recent the last renewal', () => {
    expect(hostLeaseVerdict({ ttlMs: 10_000, lastSentOk: 100, now: 100, staleEpoch: 'epoch 3 < 4' })).toEqual({
      action: 'self-fence',
      why: "the store refused this agent's epoch (epoch 3 < 4)",
    });
  });
});
