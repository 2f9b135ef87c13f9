import { spawn } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parsePoolOptions } from '../src/config/pool-config.js';
import { startCoordinator } from '../src/coordinator/coordinator-server.js';
import { POOL_TOKEN_ENV, POOL_URL_ENV } from '../src/protocol/env-names.js';
import { ContainerPoolManager } from '../src/pool/container-pool-manager.js';
import { MemoryPoolStore } from '../src/store/memory-store.js';
import type { PoolStore } from '../src/store/pool-store.js';
import { RedisPoolStore } from '../src/store/redis-store.js';
import { FakeCleaner, FakeFence, FakeHealthGate, FakeResetter, FakeRuntime } from '../test/support/fakes.js';
import { startTestRedis } from '../test/support/redis-server.js';
import { summarize, type Summary } from './latency.js';

/**
 * Allocation latency across processes: a worker process → HTTP → coordinator → store → lease on an idle
 * container, and back for the release. The coordinator runs here over the fake runtime (cleanup and health are
 * instant), so only the pool's own path is timed; the worker is a separate Node process
 * (bench/cross-process-client.ts), timed on its side, as a Playwright worker would see it.
 * A floor row (GET /v1/info twice per round) shows what HTTP between two processes costs here. Two ways per store: the bare PoolClient calls, and the fixtures' WorkerLease (which also starts the
 * heartbeat and opens the lease event stream before the test may start).
 */
const ROUNDS = Number(process.env.BENCH_XP_ROUNDS ?? 3_000);
const WARMUP = Math.min(300, ROUNDS);
const GOAL_P99_US = { memory: 3_000, redis: 5_000 } as const;
const CLIENT = fileURLToPath(new URL('./cross-process-client.ts', import.meta.url));

type Mode = 'floor' | 'client' | 'fixture';
interface Row {
  store: 'memory' | 'redis';
  mode: Mode;
  allocate: Summary;
  release: Summary;
  load: string;
}

/** One coordinator over a fresh manager; the worker process runs against it and reports its samples. */
async function measure(storeName: Row['store'], store: PoolStore, mode: Mode): Promise<Row> {
  const runtime = new FakeRuntime();
  const manager = new ContainerPoolManager({
    // No guard in front of fake members: a fence that only records.
    fence: new FakeFence().fence,
    // A long TTL: the bare client does not renew, and no lease may expire mid-run.
    config: parsePoolOptions({ containers: 2, lease: { ttlMs: 60_000 } }),
    store,
    runtime,
    health: new FakeHealthGate(runtime),
    cleaner: new FakeCleaner(),
    resetter: new FakeResetter(),
    runId: `xp-${mode}`,
  });
  await manager.initialize();
  const coordinator = await startCoordinator({ manager, runtime: 'process' });
  const loadBefore = os.loadavg()[0]!;
  try {
    const out = await runWorker(mode, { [POOL_URL_ENV]: coordinator.url, [POOL_TOKEN_ENV]: coordinator.token });
    const { allocateNs, releaseNs } = JSON.parse(out) as { allocateNs: number[]; releaseNs: number[] };
    return {
      store: storeName,
      mode,
      allocate: summarize(allocateNs),
      release: summarize(releaseNs),
      load: `${loadBefore.toFixed(2)} → ${os.loadavg()[0]!.toFixed(2)}`,
    };
  } finally {
    await coordinator.close();
    await manager.shutdown();
  }
}

function runWorker(mode: Mode, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    // `--import tsx`: the worker loads the TypeScript sources directly, as the bench itself does.
    const child = spawn(process.execPath, ['--import', 'tsx', CLIENT, mode, String(ROUNDS), String(WARMUP)], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4_000)));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(stdout.trim().split('\n').pop() ?? '') : reject(new Error(`worker exited ${code}: ${stderr}`))));
  });
}

export async function run(): Promise<string> {
  const rows: Row[] = [];
  // The floor first: two GET /v1/info per round (same HTTP, auth and JSON, no store), so a p99 that the
  // machine's load inflates shows up here too and is not blamed on the pool.
  for (const mode of ['floor', 'client', 'fixture'] as const) rows.push(await measure('memory', new MemoryPoolStore(), mode));
  const redis = await startTestRedis();
  try {
    for (const mode of ['client', 'fixture'] as const) {
      const store = new RedisPoolStore({ redis: redis.url, keyPrefix: `bench-xp-${process.pid}-${mode}` });
      try {
        rows.push(await measure('redis', store, mode));
      } finally {
        await store.close();
      }
    }
  } finally {
    await redis.stop();
  }
  const ms = (us: number) => (us / 1000).toFixed(2);
  return [
    `### Allocation latency across processes, idle container (${ROUNDS} rounds after ${WARMUP} warm-up, worker in its own process)`,
    '',
    `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; fake runtime, coordinator over HTTP on 127.0.0.1`,
    '',
    '| store | worker calls | allocate p50 ms | allocate p99 ms | release p50 ms | release p99 ms | goal allocate p99 | met | load avg (1 min) |',
    '|---|---|---:|---:|---:|---:|---:|:-:|---|',
    ...rows.map((r) => {
      const goal = GOAL_P99_US[r.store];
      const calls =
        r.mode === 'floor' ? 'HTTP floor: GET /v1/info / GET /v1/info (no store)' : r.mode === 'client' ? 'PoolClient allocate / release' : 'WorkerLease ensure / release (+ heartbeat, event stream)';
      if (r.mode === 'floor') return `| — | ${calls} | ${ms(r.allocate.p50us)} | ${ms(r.allocate.p99us)} | ${ms(r.release.p50us)} | ${ms(r.release.p99us)} | — | — | ${r.load} |`;
      return `| ${r.store} | ${calls} | ${ms(r.allocate.p50us)} | ${ms(r.allocate.p99us)} | ${ms(r.release.p50us)} | ${ms(r.release.p99us)} | ≤ ${goal / 1000} | ${r.allocate.p99us <= goal ? 'yes' : '**no**'} | ${r.load} |`;
    }),
  ].join('\n');
}

// Runnable on its own: `npx tsx bench/cross-process-latency.ts`.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) console.log(await run());
