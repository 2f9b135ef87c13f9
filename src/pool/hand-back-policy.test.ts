import { describe, expect, it } from 'vitest';
import type { TestPriority } from '../domain/priority.js';
import type { ContainerRecord, Lease, QueuedRequest } from '../store/pool-store.js';
import { adviseHandBack } from './hand-back-policy.js';

const NOW = 1_000_000;
const lease = (priority: TestPriority): Lease =>
  ({ leaseId: 'l1', containerId: 'container-1', token: 1, requestId: 'r0', testRunId: 't', priority, requestedAt: NOW - 5_000, grantedAt: NOW - 5_000, expiresAt: NOW + 10_000 }) as Lease;
let seq = 0;
const waiter = (priority: TestPriority, waitedMs: number, budgetMs = 300_000): QueuedRequest => ({
  requestId: `q${++seq}`,
  testRunId: `w${seq}`,
  priority,
  requestedAt: NOW - waitedMs,
  deadline: NOW - waitedMs + budgetMs,
  requirements: {},
  attempt: 0,
  seq,
}) as QueuedRequest;
const container = (id: string, state: ContainerRecord['state'], leaseId?: string): ContainerRecord =>
  ({ id, name: id, port: 1, state, stateChangedAt: NOW, limits: { memoryMB: 512, cpuPercent: 80 }, consecutiveFailures: 0, ...(leaseId ? { leaseId } : {}) }) as ContainerRecord;
const busy = [container('container-1', 'Allocated', 'l1'), container('container-2', 'Allocated', 'l2')];
const advise = (priority: TestPriority, queue: QueuedRequest[], containers = busy, handBackAfterMs = 30_000) =>
  adviseHandBack({ lease: lease(priority), queue, containers, now: NOW, handBackAfterMs });

describe('adviseHandBack', () => {
  it('keeps the container when nobody, or only lower priorities, wait', () => {
    expect(advise('normal', [])).toMatchObject({ handBack: false, waiting: { total: 0, atOrAbove: 0 } });
    expect(advise('normal', [waiter('low', 200_000)])).toMatchObject({ handBack: false, waiting: { total: 1, atOrAbove: 0 } });
  });

  it('hands back at once to a higher priority, and to an equal one only after handBackAfterMs', () => {
    expect(advise('normal', [waiter('high', 0)]).handBack).toBe(true);
    expect(advise('normal', [waiter('normal', 29_999)])).toMatchObject({ handBack: false, waiting: { atOrAbove: 1 } });
    expect(advise('normal', [waiter('normal', 30_000)]).handBack).toBe(true);
    expect(advise('normal', [waiter('normal', 1)], busy, 0).handBack).toBe(true);
  });

  it('bounds the hold by a third of the waiter’s own queue budget when that is shorter', () => {
    expect(advise('normal', [waiter('normal', 900, 3_000)]).handBack).toBe(false);
    expect(advise('normal', [waiter('normal', 1_000, 3_000)]).handBack).toBe(true);
  });

  it('ignores expired requests', () => {
    expect(advise('normal', [waiter('critical', 10_000, 5_000)])).toMatchObject({ handBack: false, waiting: { total: 0 } });
  });

  it('does not hand back for waiters a container already on its way back will serve', () => {
    const oneCleaning = [container('container-1', 'Allocated', 'l1'), container('container-2', 'Cleaning')];
    expect(advise('normal', [waiter('high', 0)], oneCleaning).handBack).toBe(false);
    expect(advise('normal', [waiter('high', 0), waiter('critical', 0)], oneCleaning).handBack).toBe(true);
    expect(advise('normal', [waiter('normal', 60_000)], oneCleaning).handBack).toBe(false);
    expect(advise('normal', [waiter('normal', 60_000), waiter('normal', 40_000)], oneCleaning).handBack).toBe(true);
    // A fresh higher waiter and an overdue equal one: one freed container is not enough for both.
    expect(advise('normal', [waiter('high', 0), waiter('normal', 60_000)], oneCleaning).handBack).toBe(true);
    expect(advise('normal', [waiter('high', 0), waiter('normal', 10)], oneCleaning).handBack).toBe(false);
    // An unhealthy or resetting container is not counted on.
    expect(advise('normal', [waiter('high', 0)], [container('container-1', 'Allocated', 'l1'), container('container-2', 'Resetting')]).handBack).toBe(true);
  });
});
