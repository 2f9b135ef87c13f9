import os from 'node:os';
import { createPool } from 'generic-pool';
import { SystemClock } from '../src/clock/clock.js';
import { parsePoolOptions } from '../src/config/pool-config.js';
import { ContainerPoolManager } from '../src/pool/container-pool-manager.js';
import { MemoryPoolStore } from '../src/store/memory-store.js';
import type { PoolStore } from '../src/store/pool-store.js';
import { RedisPoolStore } from '../src/store/redis-store.js';
import { FakeCleaner, FakeFence, FakeHealthGate, FakeResetter, FakeRuntime } from '../test/support/fakes.js';
import { startTestRedis } from '../test/support/redis-server.js';
import { summarize, time, type Summary } from './latency.js';

/**
 * Allocation latency with an idle container: allocate then release, N rounds, after a warm-up.
 * Side by side in one run: generic-pool's acquire/release (the floor for an in-process pool), our stores
 * called directly, and the whole ContainerPoolManager (validation, queue, lease, audit) over each store.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10_000);
const WARMUP = Math.min(1_000, ROUNDS);
const TTL = 15_000;

interface Row {
  name: string;
  allocate: Summary;
  release: Summary;
}

async function benchGenericPool(): Promise<Row> {
  let next = 0;
  const pool = createPool({ create: async () => ({ id: ++next }), destroy: async () => {} }, { min: 2, max: 2 });
  const allocate: bigint[] = [];
  const release: bigint[] = [];
  for (let i = 0; i < WARMUP + ROUNDS; i++) {
    const a = await time(() => pool.acquire());
    const r = await time(() => pool.release(a.value));
    if (i >= WARMUP) {
      allocate.push(a.ns);
      release.push(r.ns);
    }
  }
  await pool.drain();
  await pool.clear();
  return { name: 'generic-pool acquire/release (reference)', allocate: summarize(allocate), release: summarize(release) };
}

async function benchStore(name: string, store: PoolStore): Promise<Row> {
  const clock = new SystemClock();
  await store.registerContainers(parsePoolOptions({}).containerSpecs, clock.now());
  for (const id of ['container-1', 'container-2']) await store.transition(id, 'Starting', 'Available', clock.now());
  const allocate: bigint[] = [];
  const release: bigint[] = [];
  for (let i = 0; i < WARMUP + ROUNDS; i++) {
    const now = clock.now();
    const a = await time(() =>
      store.enqueue({ requestId: `r${i}`, testRunId: `t${i}`, priority: 'normal', requestedAt: now, deadline: now + 60_000, requirements: {}, attempt: 0 }, now, TTL, 10),
    );
    const lease = a.value.grants[0]?.lease;
    if (!lease) throw new Error(`${name}: no immediate grant in round ${i}`);
    const r = await time(() => store.release(lease.leaseId, lease.token, clock.now()));
    await store.transition(lease.containerId, 'Cleaning', 'Available', clock.now());
    if (i >= WARMUP) {
      allocate.push(a.ns);
      release.push(r.ns);
    }
  }
  return { name, allocate: summarize(allocate), release: summarize(release) };
}

async function benchManager(name: string, store: PoolStore): Promise<Row> {
  const runtime = new FakeRuntime();
  const manager = new ContainerPoolManager({
    // No guard in front of fake members: a fence that only records.
    fence: new FakeFence().fence,
    config: parsePoolOptions({}),
    store,
    runtime,
    health: new FakeHealthGate(runtime),
    cleaner: new FakeCleaner(),
    resetter: new FakeResetter(),
  });
  await manager.initialize();
  const allocate: bigint[] = [];
  const release: bigint[] = [];
  for (let i = 0; i < WARMUP + ROUNDS; i++) {
    const a = await time(() => manager.allocateContainerAdvanced({ testRunId: `t${i}`, priority: 'normal' }));
    const r = await time(() => manager.releaseContainer({ leaseId: a.value.lease.leaseId, token: a.value.lease.token }));
    // Cleanup runs after release returns; wait for it outside the timed part so the next round finds an idle container.
    await r.value.recycled;
    if (i >= WARMUP) {
      allocate.push(a.ns);
      release.push(r.ns);
    }
  }
  await manager.shutdown();
  return { name, allocate: summarize(allocate), release: summarize(release) };
}

export async function run(): Promise<string> {
  const rows: Row[] = [];
  rows.push(await benchGenericPool());
  rows.push(await benchStore('memory store: enqueue→grant / release', new MemoryPoolStore()));
  rows.push(await benchManager('manager + memory store: allocate / release', new MemoryPoolStore()));
  const redis = await startTestRedis();
  try {
    const prefix = `bench-${process.pid}`;
    const direct = new RedisPoolStore({ redis: redis.url, keyPrefix: `${prefix}-store` });
    rows.push(await benchStore('redis store: enqueue→grant / release (one Lua call each)', direct));
    await direct.close();
    const viaManager = new RedisPoolStore({ redis: redis.url, keyPrefix: `${prefix}-manager` });
    rows.push(await benchManager('manager + redis store: allocate / release', viaManager));
    await viaManager.close();
  } finally {
    await redis.stop();
  }
  const floor = rows[0]!;
  const lines = [
    `### Allocation latency, idle container (${ROUNDS} rounds after ${WARMUP} warm-up)`,
    '',
    `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
    '',
    '| implementation | allocate p50 µs | allocate p99 µs | release p50 µs | release p99 µs | allocate p99 ÷ generic-pool |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.allocate.p50us} | ${r.allocate.p99us} | ${r.release.p50us} | ${r.release.p99us} | ${(r.allocate.p99us / Math.max(0.1, floor.allocate.p99us)).toFixed(1)}× |`,
    ),
  ];
  return lines.join('\n');
}
