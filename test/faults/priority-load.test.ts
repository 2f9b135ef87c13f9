/**
 * Scenario 3 of issue 5 — priority load: 10 requesters × 100 allocations at mixed priorities on 2 containers.
 * Never more leases than containers; every grant goes to the best waiting request (priority rank, then
 * arrival): none of higher rank, or of the same rank and earlier, is ever passed over. The subject is
 * scheduling, so the containers are fakes and the store is the memory one, wrapped to log every change in
 * the order it was applied; the replay of that log is the proof, cross-checked with the audit trail.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { PRIORITY_RANK, TEST_PRIORITIES, type TestPriority } from '../../src/domain/priority.js';
import type { EnqueueResult, Grant, Lease, QueuedRequest } from '../../src/store/pool-store.js';
import { MemoryPoolStore } from '../../src/store/memory-store.js';
import { doubleLeases } from './support/audit-check.js';
import { startFakePool, type FakePool } from './support/fake-pool.js';
import { recordingStore, type StoreCall } from './support/recording-store.js';
import { reportFault } from './support/report.js';

const REQUESTERS = 10;
const PER_REQUESTER = 100;
const CONTAINERS = 2;

/** Deterministic mixed priorities (a small LCG), so that a failure can be replayed. */
function priorities(seed: number, count: number): TestPriority[] {
  let x = seed;
  return Array.from({ length: count }, () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    // High bits: the low bits of a power-of-two LCG repeat with a short period.
    return TEST_PRIORITIES[(x >>> 16) % TEST_PRIORITIES.length]!;
  });
}

const better = (a: QueuedRequest, b: QueuedRequest) => PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || a.seq - b.seq;

/** Replays the store log: each grant must take the head of the queue as it stood; leases never exceed containers. */
function replay(calls: readonly StoreCall[]) {
  const waiting = new Map<string, QueuedRequest>();
  const active = new Set<string>();
  const violations: string[] = [];
  let grants = 0;
  let maxActive = 0;
  const grant = (g: Grant, now: number) => {
    const eligible = [...waiting.values()].filter((q) => q.deadline > now).sort(better);
    const head = eligible[0];
    if (!head || head.requestId !== g.request.requestId) {
      violations.push(`grant to ${g.request.requestId} (${g.request.priority} #${g.request.seq}) passed over ${head ? `${head.requestId} (${head.priority} #${head.seq})` : 'nothing?'}`);
    }
    waiting.delete(g.request.requestId);
    active.add(g.lease.leaseId);
    grants++;
    maxActive = Math.max(maxActive, active.size);
    if (active.size > CONTAINERS) violations.push(`${active.size} leases active on ${CONTAINERS} containers at grant ${g.lease.leaseId}`);
  };
  for (const call of calls) {
    if (call.error) continue; // refused calls change nothing (asserted by the store contract suite)
    if (call.method === 'enqueue') {
      const result = call.result as EnqueueResult;
      waiting.set(result.queued.requestId, result.queued);
      for (const g of result.grants) grant(g, call.args[1] as number);
    } else if (call.method === 'dispatch') {
      for (const g of call.result as Grant[]) grant(g, call.args[0] as number);
    } else if (call.method === 'cancel') {
      waiting.delete(call.args[0] as string);
    } else if (call.method === 'release' || call.method === 'revoke') {
      if (call.result) active.delete((call.result as Lease).leaseId);
    } else if (call.method === 'reclaimExpired') {
      for (const lease of call.result as Lease[]) active.delete(lease.leaseId);
    }
  }
  return { violations, grants, maxActive, leftWaiting: waiting.size };
}

let pool: FakePool | undefined;
afterAll(async () => {
  await pool?.manager.shutdown();
});

describe('fault 3: priority load', () => {
  it(`${REQUESTERS} requesters × ${PER_REQUESTER} allocations on ${CONTAINERS} containers: strict priority, FIFO within a level, never over capacity`, async () => {
    const { store, calls } = recordingStore(new MemoryPoolStore());
    pool = await startFakePool({
      store,
      containers: CONTAINERS,
      label: 'priority',
      // Load is the point: degradation must not refuse LOW requests here, and every requester may wait.
      resources: { queueSizeThreshold: 1_000, maxConcurrentAllocations: REQUESTERS, maxWaitTimeMs: 120_000 },
    });
    const { manager } = pool;
    let overCapacity = 0;
    manager.on('containerAllocated', () => {
      void store.listLeases().then((leases) => {
        if (leases.length > CONTAINERS || new Set(leases.map((l) => l.containerId)).size !== leases.length) overCapacity++;
      });
    });

    const waits: Record<TestPriority, number[]> = { critical: [], high: [], normal: [], low: [] };
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: REQUESTERS }, async (_, r) => {
        for (const [i, priority] of priorities(r + 1, PER_REQUESTER).entries()) {
          const allocation = await manager.allocateContainerAdvanced({ testRunId: `r${r}-${i}`, priority });
          waits[priority].push(allocation.waitMs);
          // Hold for a moment (0–2 ms) so that queues form at every level.
          await new Promise((resolve) => setTimeout(resolve, i % 3));
          await manager.releaseContainer({ leaseId: allocation.lease.leaseId, token: allocation.lease.token });
        }
      }),
    );
    const elapsedS = (performance.now() - t0) / 1000;
    const audit = await manager.getAuditLog();
    const result = replay(calls);
    const allocated = audit.filter((e) => e.type === 'allocated');
    const twice = doubleLeases(audit);
    const total = REQUESTERS * PER_REQUESTER;
    const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const ok = result.violations.length === 0 && twice.length === 0 && overCapacity === 0 && result.grants === total;
    reportFault(
      `priority load (${REQUESTERS}×${PER_REQUESTER} on ${CONTAINERS})`,
      total,
      ok ? allocated.length : Math.max(0, total - result.violations.length - twice.length - overCapacity - (result.grants === total ? 0 : 1)),
      `${result.grants} grants replayed, ${result.violations.length} out of order, max ${result.maxActive} leases on ${CONTAINERS} containers; ` +
        `median wait critical ${p50(waits.critical)} / high ${p50(waits.high)} / normal ${p50(waits.normal)} / low ${p50(waits.low)} ms; ${elapsedS.toFixed(1)} s`,
    );
    expect(result.violations.slice(0, 5)).toEqual([]);
    expect(twice).toEqual([]);
    expect(overCapacity).toBe(0);
    expect(result.maxActive).toBeLessThanOrEqual(CONTAINERS);
    expect(result.grants).toBe(total);
    expect(allocated).toHaveLength(total);
    expect(result.leftWaiting).toBe(0);
    // Every level was exercised, and the queue really formed (someone waited).
    for (const p of TEST_PRIORITIES) expect(waits[p].length).toBeGreaterThan(100);
    expect(Math.max(...waits.low)).toBeGreaterThan(0);
  });
});
