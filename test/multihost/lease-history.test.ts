import { describe, expect, it } from 'vitest';
import { overlappingLeases, type LeaseSpan } from './support/lease-history.js';

/** The shared-pool tier's double-lease check, on hand-made spans: it must name an overlap when there is one. */
const span = (leaseId: string, containerId: string, token: number, grantedAt: number, endedAt: number | null): LeaseSpan => ({
  leaseId,
  containerId,
  token,
  grantedAt,
  endedAt,
  reason: endedAt === null ? 'active' : 'released',
});

describe('overlappingLeases', () => {
  it('accepts back-to-back leases on one container and leases of other containers at the same time', () => {
    expect(overlappingLeases([span('a', 'c1', 1, 100, 200), span('b', 'c1', 3, 200, 300), span('c', 'c2', 2, 150, 400), span('d', 'c1', 4, 350, null)])).toEqual([]);
  });

  it('names a lease granted before the previous one on its container ended, in token order whatever the input order', () => {
    const problems = overlappingLeases([span('late', 'c1', 7, 250, 400), span('early', 'c1', 5, 100, 300)]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('late');
    expect(problems[0]).toContain('early');
  });

  it('names a lease granted while the previous one is still active', () => {
    expect(overlappingLeases([span('a', 'c1', 1, 100, null), span('b', 'c1', 2, 200, 300)])).toHaveLength(1);
  });
});
