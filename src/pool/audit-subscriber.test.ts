import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { MemoryPoolStore } from '../store/memory-store.js';
import type { Lease } from '../store/pool-store.js';
import { AuditLog } from './audit-log.js';
import { subscribeAudit } from './audit-subscriber.js';
import type { PoolEventMap, PoolEventName } from './pool-events.js';

const lease = { leaseId: 'l1', containerId: 'c1', token: 3, requestId: 'r1', testRunId: 'checkout', priority: 'high', requestedAt: 10, grantedAt: 40, expiresAt: 9_000, ttlMs: 8_960 } as Lease;

function setup() {
  const clock = new FakeClock(1_000);
  const store = new MemoryPoolStore();
  const pool = new EventEmitter();
  const emit = <K extends PoolEventName>(name: K, payload: PoolEventMap[K]) => pool.emit(name, payload);
  const audit = new AuditLog(store, clock);
  const detach = subscribeAudit(pool, audit, 'run-1');
  const written = async () => {
    await audit.flush();
    return JSON.parse(JSON.stringify(await store.listAudit())) as unknown[];
  };
  return { emit, detach, written };
}

describe('subscribeAudit', () => {
  it("names a lease's tenant in its 'allocated' record", async () => {
    const { emit, written } = setup();
    emit('containerAllocated', { lease: { ...lease, tenant: 'team-a' }, waitMs: 30, requestedAt: 10, attempts: 0 });
    expect(await written()).toEqual([expect.objectContaining({ type: 'allocated', detail: expect.objectContaining({ leaseId: 'l1', tenant: 'team-a' }) })]);
  });

  // The records below are the JSON older runs wrote (history files and reports read them): they must not change.
  it('writes each event as the audit record older runs wrote', async () => {
    const { emit, written } = setup();
    emit('initialized', { containers: 2, durationMs: 1_500 });
    emit('containerAllocated', { lease, waitMs: 30, requestedAt: 10, attempts: 1 });
    emit('containerReleased', { lease, heldMs: 500 });
    emit('leaseReturned', { lease });
    emit('containerUnhealthy', { containerId: 'c1', consecutiveFailures: 1, reason: 'died', cause: 'detected', leaseId: 'l1' });
    emit('containerUnhealthy', { containerId: 'c1', consecutiveFailures: 2, reason: 'recreate failed', cause: 'recreate-failed' });
    emit('leaseRevoked', { lease, reason: 'died' });
    emit('cleanupCompleted', { containerId: 'c1', success: false, durationMs: 80, level: 'full', stages: [{ stage: 'clearCaches', success: false, durationMs: 5, error: 'denied' }] });
    emit('resetCompleted', { containerId: 'c1', requested: 'soft', applied: 'medium', success: true, durationMs: 200, attempts: [], actor: 'coordinator' });
    emit('allocationFailed', { actor: 'late', category: 'timeout', code: 'ALLOCATION_TIMEOUT', message: 'waited', priority: 'low' });
    emit('extensionDecided', { testRunId: 't', decision: { granted: true, timeoutMs: 90, extensionMs: 30, reason: 'ok', count: 1 }, justification: 'x'.repeat(600) });
    emit('poolStopped', { available: [] });
    const events = await written();
    expect(events).toEqual([
      { at: 1_000, type: 'pool-started', actor: 'coordinator', outcome: 'ok', detail: { containers: 2, durationMs: 1_500, runId: 'run-1' } },
      { at: 40, type: 'allocated', actor: 'checkout', containerId: 'c1', outcome: 'ok', detail: { leaseId: 'l1', token: 3, priority: 'high', requestedAt: 10, waitMs: 30, attempts: 1 } },
      { at: 1_000, type: 'released', actor: 'checkout', containerId: 'c1', outcome: 'ok', detail: { leaseId: 'l1', heldMs: 500, priority: 'high' } },
      { at: 1_000, type: 'released', actor: 'coordinator', containerId: 'c1', outcome: 'ok', detail: { leaseId: 'l1', heldMs: 0, unwanted: true } },
      { at: 1_000, type: 'container-unhealthy', actor: 'health-monitor', containerId: 'c1', outcome: 'failed', detail: { reason: 'died', leaseId: 'l1' } },
      { at: 1_000, type: 'lease-revoked', actor: 'checkout', containerId: 'c1', outcome: 'failed', detail: { leaseId: 'l1', reason: 'died' } },
      { at: 1_000, type: 'cleanup', actor: 'coordinator', containerId: 'c1', outcome: 'failed', detail: { level: 'full', durationMs: 80, failed: ['clearCaches: denied'] } },
      { at: 1_000, type: 'reset', actor: 'coordinator', containerId: 'c1', outcome: 'ok', detail: { requested: 'soft', applied: 'medium', durationMs: 200, attempts: 0 } },
      { at: 1_000, type: 'allocation-failed', actor: 'late', outcome: 'failed', detail: { category: 'timeout', code: 'ALLOCATION_TIMEOUT', message: 'waited', priority: 'low' } },
      {
        at: 1_000,
        type: 'extension',
        actor: 't',
        outcome: 'ok',
        detail: { granted: true, timeoutMs: 90, extensionMs: 30, reason: 'ok', count: 1, requestedMs: null, justification: 'x'.repeat(500) },
      },
      { at: 1_000, type: 'pool-stopped', actor: 'coordinator', outcome: 'ok' },
    ]);
  });

  it('stops recording once detached', async () => {
    const { emit, detach, written } = setup();
    emit('poolResumed', {});
    detach();
    emit('poolStopped', { available: [] });
    expect(await written()).toEqual([{ at: 1_000, type: 'pool-resumed', actor: 'coordinator', outcome: 'ok', detail: { runId: 'run-1' } }]);
  });
});
