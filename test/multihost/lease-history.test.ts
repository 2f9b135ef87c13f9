import { describe, expect, it } from 'vitest';
import type { TestPriority } from '../../src/domain/priority.js';
import { checkPriorityOrder, overlappingLeases, type LeaseSpan } from './support/lease-history.js';

/** The shared-pool tier's checks, on hand-made spans: each must name the fault when there is one. */
const span = (leaseId: string, containerId: string, token: number, grantedAt: number, endedAt: number | null): LeaseSpan => ({
  leaseId,
  containerId,
  token,
  requestId: `req-${leaseId}`,
  testRunId: `test-${leaseId} @run-1`,
  priority: 'normal',
  seq: token,
  queuedAt: grantedAt,
  grantedAt,
  endedAt,
  reason: endedAt === null ? 'active' : 'released',
});

/** A granted try: its arrival number, when it was queued and when it was granted (store time). */
const granted = (requestId: string, priority: TestPriority, seq: number, queuedAt: number, grantedAt: number): LeaseSpan => ({
  leaseId: `lease-${requestId}`,
  containerId: 'c1',
  token: seq,
  requestId,
  testRunId: `${requestId} @run-1`,
  priority,
  seq,
  queuedAt,
  grantedAt,
  endedAt: grantedAt + 50,
  reason: 'released',
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

describe('checkPriorityOrder', () => {
  it('accepts a queue served in priority order and counts the grants that overtook a lower-priority try', () => {
    const report = checkPriorityOrder(
      [
        granted('low-1', 'low', 1, 100, 100), // served at once: nothing waited
        granted('low-2', 'low', 2, 110, 400), // waited behind everyone below
        granted('normal-1', 'normal', 3, 120, 200),
        granted('critical-1', 'critical', 4, 130, 150),
      ],
      4,
    );
    expect(report.violations).toEqual([]);
    expect(report.untracked).toEqual([]);
    expect(report.unstamped).toEqual([]);
    // critical-1 (at 150) went before normal-1 and low-2, normal-1 (at 200) before low-2.
    expect(report.overtakes.map((o) => `${o.granted.requestId}>${o.waiting.requestId}`).sort()).toEqual(['critical-1>low-2', 'critical-1>normal-1', 'normal-1>low-2']);
  });

  it('names a grant made while a higher-priority try waited', () => {
    const report = checkPriorityOrder([granted('high-1', 'high', 1, 100, 500), granted('low-1', 'low', 2, 200, 300)], 2);
    expect(report.violations).toHaveLength(1);
    expect(report.violations[0]).toContain('low-1');
    expect(report.violations[0]).toContain('high-1');
    expect(report.overtakes).toEqual([]);
  });

  it('leaves out tries queued or granted in the grant\'s own millisecond (their order is not recorded), and equal priorities', () => {
    const report = checkPriorityOrder(
      [
        granted('low-1', 'low', 1, 100, 300),
        granted('critical-same-ms-queued', 'critical', 2, 300, 310),
        granted('critical-same-ms-granted', 'critical', 3, 200, 300),
        granted('low-2', 'low', 4, 150, 320),
        granted('low-3', 'low', 5, 160, 330),
      ],
      5,
    );
    expect(report.violations).toEqual([]);
  });

  it('reports arrival numbers no lease carries (cancelled tries) and leases without the stamps', () => {
    const old: LeaseSpan = { ...granted('old', 'high', 9, 0, 100), seq: undefined, queuedAt: undefined };
    const report = checkPriorityOrder([granted('a', 'normal', 1, 100, 100), granted('c', 'normal', 3, 120, 130), old], 4);
    expect(report.untracked).toEqual([2, 4]);
    expect(report.unstamped).toEqual(['lease-old']);
  });
});
