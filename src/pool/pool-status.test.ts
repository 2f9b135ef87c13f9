import { describe, expect, it } from 'vitest';
import { resourceConfigSchema, timeoutConfigSchema } from '../config/schemas.js';
import type { ContainerRecord, Lease, QueuedRequest } from '../store/pool-store.js';
import { poolStatus, type PoolStatusInput } from './pool-status.js';

const NOW = 1_000_000;
const SAMPLE = { queueSize: 3, averageWaitMs: 0, failureRate: 0 };
const container = (id: string, state: ContainerRecord['state'], extra: Partial<ContainerRecord> = {}): ContainerRecord =>
  ({ id, name: `mcp-${id}`, port: 3000 + Number(id.at(-1)), state, stateChangedAt: NOW - 10, limits: { memoryMB: 512, cpuPercent: 80 }, consecutiveFailures: 0, ...extra }) as ContainerRecord;
const lease = { leaseId: 'l1', containerId: 'c1', token: 7, requestId: 'r1', testRunId: 'checkout', priority: 'high', requestedAt: NOW - 50, grantedAt: NOW - 40, expiresAt: NOW + 1000, ttlMs: 1040 } as Lease;
const queued = (requestId: string, priority: QueuedRequest['priority']): QueuedRequest =>
  ({ requestId, testRunId: `t-${requestId}`, priority, requestedAt: NOW - 5, deadline: NOW + 60_000, requirements: {}, attempt: 0, seq: 1 }) as QueuedRequest;

function input(overrides: Partial<PoolStatusInput> = {}): PoolStatusInput {
  return {
    now: NOW,
    startedAt: NOW - 60_000,
    containers: [container('c1', 'Allocated', { leaseId: 'l1' }), container('c2', 'Unhealthy', { consecutiveFailures: 2, lastError: 'died' })],
    queue: [queued('q1', 'low'), queued('q2', 'critical'), queued('q3', 'low')],
    leases: [lease],
    counters: { allocations: 4, releases: 3, expirations: 0, revocations: 1, failedAllocations: 1, cancelledRequests: 0 },
    resources: resourceConfigSchema.parse({}),
    timeouts: timeoutConfigSchema.parse({}),
    degradation: { active: false, reasons: [], sample: SAMPLE },
    ...overrides,
  };
}

describe('poolStatus', () => {
  it('names each container’s holder, failures and last error; counts the queue by priority', () => {
    const status = poolStatus(input());
    expect(status.containers).toEqual([
      { id: 'c1', name: 'mcp-c1', port: 3001, state: 'Allocated', since: NOW - 10, holder: 'checkout', consecutiveFailures: 0 },
      { id: 'c2', name: 'mcp-c2', port: 3002, state: 'Unhealthy', since: NOW - 10, consecutiveFailures: 2, lastError: 'died' },
    ]);
    expect(status.queue.size).toBe(3);
    expect(status.queue.byPriority).toEqual({ critical: 1, high: 0, normal: 0, low: 2 });
    expect(status.queue.requests.map((r) => r.requestId)).toEqual(['q1', 'q2', 'q3']);
    expect(status.leases).toEqual([lease]);
  });

  it('takes its metrics from the counters and records, and passes degradation through', () => {
    const degradation = { active: true, since: NOW - 5_000, reasons: ['queueSize' as const], sample: SAMPLE };
    const status = poolStatus(input({ degradation }));
    expect(status.metrics).toMatchObject({ totalContainers: 2, availableContainers: 0, allocatedContainers: 1, queueSize: 3, totalAllocations: 4, totalReleases: 3, failedAllocations: 1 });
    expect(status.degradation).toBe(degradation);
  });
});
