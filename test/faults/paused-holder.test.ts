/**
 * Scenario 2 of issue 5 — paused holder: a worker process holding a lease is SIGSTOPped past its TTL (the
 * lease expires and the container goes to the next requester), then SIGCONTed. Everything it then tries with
 * its old token — renew, release, timeout extension, reset — must be refused with a typed error, and nothing
 * may change: the new holder's lease, the containers, the queue, the counters, its extension count.
 * The fault is in the worker process, so the containers are fakes behind a real coordinator over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolClient } from '../../src/protocol/pool-client.js';
import { startCoordinator, type RunningCoordinator } from '../../src/coordinator/coordinator-server.js';
import { MemoryPoolStore } from '../../src/store/memory-store.js';
import { startFakePool, snapshotStore, until, type FakePool } from './support/fake-pool.js';
import { reportFault } from './support/report.js';
import { startWorker, type WorkerProcess } from './support/worker-process.js';

const REPEATS = 3;
const TTL_MS = 1_500;
/** What an old token may be told: the lease is over (how it ended), or the token is not the lease's. */
const REFUSALS = ['LEASE_EXPIRED', 'STALE_TOKEN', 'UNKNOWN_LEASE', 'ALREADY_RELEASED'];

let pool: FakePool;
let coordinator: RunningCoordinator;
let client: PoolClient;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  pool = await startFakePool({ store: new MemoryPoolStore(), containers: 1, label: 'paused', lease: { ttlMs: TTL_MS, sweepIntervalMs: 50 } });
  coordinator = await startCoordinator({ manager: pool.manager, runtime: 'process' });
  client = new PoolClient({ url: coordinator.url, token: coordinator.token });
});

afterAll(async () => {
  for (const w of workers) {
    w.child.kill('SIGCONT');
    await w.kill();
  }
  client?.close();
  await coordinator?.close();
  await pool?.manager.shutdown();
});

describe('fault 2: paused holder', () => {
  it('after SIGSTOP past the TTL and SIGCONT, every operation with the old token is refused and changes nothing', async () => {
    const { manager } = pool;
    let passed = 0;
    let operations = 0;
    const codes = new Set<string>();
    for (let i = 0; i < REPEATS; i++) {
      const testRunId = `paused-${i}`;
      const victim = startWorker(coordinator, testRunId, 'normal');
      workers.push(victim);
      const held = await victim.next<{ lease: { leaseId: string; token: number } }>('allocated');
      const waiting = client.allocate({ testRunId: `next-${i}`, priority: 'normal' });
      await until('the next requester is queued', async () => (await pool.store.listQueue()).length === 1);

      victim.child.kill('SIGSTOP');
      const { allocation } = await waiting; // only possible once the paused holder's lease expired
      const next = { leaseId: allocation.lease.leaseId, token: allocation.lease.token };
      // A long TTL (a debugging worker's renewal), so that nothing moves on its own while we compare: the resumed
      // worker's four calls may take longer than TTL_MS on a busy machine, and an expiry then is not its doing.
      await client.renew(next, { ttlMs: 10 * 60_000 });
      await manager.getAuditLog(); // flush
      const before = await snapshotStore(pool.store, [testRunId]);
      const auditBefore = (await manager.getAuditLog()).length;

      victim.child.kill('SIGCONT');
      victim.send('stale-ops');
      const report = await victim.next<{ results: Array<{ op: string; code: string }>; heartbeatLost: string | null }>('ops');
      const after = await snapshotStore(pool.store, [testRunId]);
      const newEvents = (await manager.getAuditLog()).slice(auditBefore);

      operations += report.results.length;
      for (const r of report.results) codes.add(`${r.op}=${r.code}`);
      const allRefused = report.results.length === 4 && report.results.every((r) => REFUSALS.includes(r.code));
      const unchanged = JSON.stringify(after) === JSON.stringify(before);
      const nothingLogged = !newEvents.some((e) => e.actor === testRunId && e.outcome === 'ok');
      if (allRefused && unchanged && nothingLogged) passed++;
      expect(report.results.map((r) => r.op)).toEqual(['renew', 'release', 'extension', 'reset']);
      for (const r of report.results) expect(REFUSALS, `${r.op} with the old token answered ${r.code}`).toContain(r.code);
      expect(after).toEqual(before);
      expect(newEvents.filter((e) => e.actor === testRunId && e.outcome === 'ok')).toEqual([]);
      expect(held.lease.token).toBeLessThan(allocation.lease.token);
      await victim.kill();

      await client.release(next);
      await until('the container is back', async () => (await pool.store.getContainer(allocation.container.id)).state === 'Available');
    }
    reportFault('paused holder (SIGSTOP past TTL)', REPEATS, passed, `${operations} stale-token operations, all refused (${[...codes].sort().join(', ')}); state unchanged`);
    expect(passed).toBe(REPEATS);
  });
});
