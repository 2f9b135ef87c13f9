import { describe, expect, it } from 'vitest';
import type { HostListing } from '../store/host-registry.js';
import type { ContainerRecord, Lease, QueuedRequest } from '../store/pool-store.js';
import { parseCommand } from './cli-args.js';
import { formatSharedStatus } from './shared-status.js';

const NOW = 1_800_000_000_000;

function host(hostId: string, live: boolean, extra: Partial<HostListing> = {}): HostListing {
  return { hostId, epoch: 3, address: `10.0.0.${hostId.length}`, controlUrl: 'http://x', runtime: 'process', members: [], claimedAt: NOW - 60_000, expiresAt: NOW + 7_000, draining: false, live, ...extra };
}

function member(id: string, hostId: string, state: ContainerRecord['state'], leaseId?: string): ContainerRecord {
  return { id, name: `mcp-${id}`, port: 3001, state, stateChangedAt: NOW - 4_000, limits: { memoryMB: 512, cpuPercent: 100 }, consecutiveFailures: 0, hostId, address: '10.0.0.2', ...(leaseId ? { leaseId } : {}) };
}

describe('cinnamon-pool status --redis-url', () => {
  it('parses the shared form: the pool from --pool-id, $CINNAMON_POOL_ID or the default, or an explicit prefix', () => {
    expect(parseCommand(['status', '--redis-url', 'redis://r:6379'], {})).toEqual({ kind: 'shared-status', redisUrl: 'redis://r:6379', keyPrefix: 'cinnamon-pool:cinnamon-qa', json: false });
    expect(parseCommand(['status', '--redis-url', 'redis://r', '--json'], { CINNAMON_POOL_ID: 'team-a' })).toMatchObject({ keyPrefix: 'cinnamon-pool:team-a', json: true });
    expect(parseCommand(['status', '--redis-url', 'redis://r', '--pool-id', 'b', '--prefix', 'p:x'], {})).toMatchObject({ keyPrefix: 'p:x' });
  });

  it('shows hosts (live, draining, lost), members by host with their holder, and the queue by priority then tenant', () => {
    const lease = { leaseId: 'L1', containerId: 'h1-1', token: 42, testRunId: 'checkout.spec', priority: 'high', tenant: 'team-a' } as unknown as Lease;
    const queued = (testRunId: string, priority: QueuedRequest['priority'], tenant?: string) =>
      ({ requestId: testRunId, testRunId, priority, requestedAt: NOW - 2_000, deadline: NOW + 1, requirements: {}, attempt: 0, seq: 1, ...(tenant ? { tenant } : {}) }) as QueuedRequest;
    const text = formatSharedStatus({
      prefix: 'cinnamon-pool:ci',
      now: NOW,
      hosts: [host('h1', true), host('h2', true, { draining: true }), host('h3', false, { expiresAt: 0 })],
      containers: [member('h1-1', 'h1', 'Allocated', 'L1'), member('h2-1', 'h2', 'Available')],
      leases: [lease],
      queue: [queued('a', 'normal', 'team-b'), queued('b', 'critical'), queued('c', 'normal', 'team-a')],
    });
    expect(text).toContain("shared pool 'cinnamon-pool:ci': 3 host(s), 2 member(s), 1 leased, 3 queued");
    expect(text).toMatch(/h1\s+3\s+live\s+10\.0\.0\.2\s+renewed, 7s left/);
    expect(text).toMatch(/h2\s+3\s+draining/);
    expect(text).toMatch(/h3\s+3\s+lost\s+.*expired/);
    expect(text).toMatch(/h1-1\s+h1\s+10\.0\.0\.2:3001\s+Allocated\s+4s\s+checkout\.spec \(high, team-a, token 42\)/);
    expect(text).toContain('queue: critical 1, normal/team-a 1, normal/team-b 1');
  });
});
