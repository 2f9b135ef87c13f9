import { describe, expect, it } from 'vitest';
import type { CoordinatorInfo } from '../protocol/coordinator-api.js';
import type { PoolStatus } from '../pool/analytics-types.js';
import { renderStatus, type StatusSource } from './status-command.js';

const NOW = 1_800_000_000_000;

const info: CoordinatorInfo = { apiVersion: 1, poolId: 'cinnamon-qa', runId: 'run-1', runtime: 'process', containers: 2, leaseTtlMs: 15_000, leaseDebugTtlMs: 3_600_000, maxWaitTimeMs: 300_000, final: false };

const status: PoolStatus = {
  metrics: { totalContainers: 2, availableContainers: 0, allocatedContainers: 2, queueSize: 1, averageAllocationTime: 12, totalAllocations: 5, totalReleases: 3, failedAllocations: 0 },
  queue: {
    size: 1,
    byPriority: { critical: 0, high: 1, normal: 0, low: 0 },
    requests: [{ requestId: 'r9', testRunId: 'cart.spec.ts:10', priority: 'high', requestedAt: NOW - 4_000 }],
  },
  containers: [
    { id: 'container-1', name: 'cinnamon-qa-mcp-1', port: 3001, state: 'Allocated', since: NOW - 2_000, holder: 'checkout.spec.ts:9', consecutiveFailures: 0 },
    { id: 'container-2', name: 'cinnamon-qa-mcp-2', port: 3002, state: 'Allocated', since: NOW - 7_000, holder: 'catalog.spec.ts:7', consecutiveFailures: 0 },
  ],
  leases: [],
  degradation: { active: false, reasons: [], sample: {} as PoolStatus['degradation']['sample'] },
};

const source: StatusSource = { info: async () => info, status: async () => status };

describe('renderStatus', () => {
  it('prints containers with state and holder, and the queue by priority', async () => {
    const text = await renderStatus(source, { json: false, now: NOW });
    expect(text.split('\n')[0]).toBe('cinnamon pool cinnamon-qa (run run-1, process runtime)');
    expect(text).toMatch(/cinnamon-qa-mcp-1\s+3001\s+Allocated\s+2s\s+checkout\.spec\.ts:9/);
    expect(text).toContain('queue by priority: critical 0, high 1, normal 0, low 0');
    expect(text).toContain('high     cart.spec.ts:10  waiting 4s');
  });

  it('names the run group in the header when the run has one', async () => {
    const text = await renderStatus({ ...source, info: async () => ({ ...info, runGroup: 'github:9876543210-1' }) }, { json: false, now: NOW });
    expect(text.split('\n')[0]).toBe('cinnamon pool cinnamon-qa (run run-1 of group github:9876543210-1, process runtime)');
  });

  it('--json prints info and status as they came', async () => {
    expect(JSON.parse(await renderStatus(source, { json: true }))).toEqual({ info, status });
  });
});
