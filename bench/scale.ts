import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import os from 'node:os';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isPoolError } from '../src/errors/pool-error.js';
import { PoolClient } from '../src/protocol/pool-client.js';
import { TEST_PRIORITIES, type TestPriority } from '../src/domain/priority.js';
import { startTestRedis } from '../test/support/redis-server.js';

/**
 * Scale: 10 requesters (each its own PoolClient, as 10 workers would be) share 2 containers for 1,000
 * allocations in all. Each request takes a random priority, holds its lease 1–5 ms, releases, and asks again;
 * cleanup is the fake's (instant), so the waits are the pool's scheduling and nothing else.
 * The coordinator runs in a child process started with --expose-gc, so its RSS is measured alone, after a
 * warm-up and a forced GC, before and after the measured allocations.
 * `BENCH_SCALE_ALLOCATIONS`, `BENCH_SCALE_REDIS=0` (skip the Redis run) change it.
 */
const REQUESTERS = 10;
const CONTAINERS = 2;
const ALLOCATIONS = Number(process.env.BENCH_SCALE_ALLOCATIONS ?? 1_000);
/** Enough for the coordinator's RSS to level off (JIT, new space, sockets): in a 6,000-allocation probe it rose
 * ≈ 15 % over the first 500 allocations and then moved only within ±5 % noise. */
const WARMUP = 500;
const HOLD_MS = [1, 5] as const;
/** Share of requests per priority: a realistic mix with lows and a steady stream above them. */
const MIX: Readonly<Record<TestPriority, number>> = { critical: 0.1, high: 0.2, normal: 0.4, low: 0.3 };
const SEED = 20261126;
const COORDINATOR = fileURLToPath(new URL('./scale-coordinator.ts', import.meta.url));

interface Sample {
  priority: TestPriority;
  /** Client-side: from sending the request to holding the lease, ms. */
  waitMs: number;
}

interface Result {
  store: 'memory' | 'redis';
  samples: Sample[];
  failures: Map<string, number>;
  wallMs: number;
  rssStart: number;
  rssEnd: number;
  heapStart: number;
  heapEnd: number;
  gcForced: boolean;
  maxWaitTimeMs: number;
  load: string;
}

/** A small seeded generator (xorshift32), so every run draws the same priorities and hold times. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

function pickPriority(r: number): TestPriority {
  let acc = 0;
  for (const p of TEST_PRIORITIES) {
    acc += MIX[p];
    if (r < acc) return p;
  }
  return 'low';
}

class Coordinator {
  private readonly lines: Interface;
  private readonly pending: Array<(line: string) => void> = [];
  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout });
    this.lines.on('line', (line) => this.pending.shift()?.(line));
  }

  static async start(env: Record<string, string>): Promise<{ coordinator: Coordinator; url: string; token: string; maxWaitTimeMs: number }> {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', COORDINATOR], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4_000)));
    const coordinator = new Coordinator(child);
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`scale coordinator exited ${code}: ${stderr}`))));
    exited.catch(() => undefined);
    const first = await Promise.race([coordinator.next(), exited]);
    const hello = JSON.parse(first) as { url: string; token: string; settings: { maxWaitTimeMs: number } };
    return { coordinator, url: hello.url, token: hello.token, maxWaitTimeMs: hello.settings.maxWaitTimeMs };
  }

  async memory(): Promise<{ rssBytes: number; heapUsedBytes: number; gcForced: boolean }> {
    this.child.stdin.write('mem\n');
    return JSON.parse(await this.next()) as { rssBytes: number; heapUsedBytes: number; gcForced: boolean };
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end('stop\n');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  private next(): Promise<string> {
    return new Promise((resolve) => this.pending.push(resolve));
  }
}

/** `total` allocations shared by the requesters; each requester asks again as soon as it released. */
async function drive(clients: PoolClient[], total: number, rand: () => number, label: string): Promise<{ samples: Sample[]; failures: Map<string, number> }> {
  const samples: Sample[] = [];
  const failures = new Map<string, number>();
  let issued = 0;
  await Promise.all(
    clients.map(async (client, w) => {
      while (issued < total) {
        const n = issued++;
        const priority = pickPriority(rand());
        const holdMs = HOLD_MS[0] + rand() * (HOLD_MS[1] - HOLD_MS[0]);
        const t0 = performance.now();
        try {
          const { allocation } = await client.allocate({ testRunId: `${label}-w${w}-${n}`, priority });
          samples.push({ priority, waitMs: performance.now() - t0 });
          await new Promise((r) => setTimeout(r, holdMs));
          await client.release(allocation.lease);
        } catch (error) {
          const code = isPoolError(error) ? error.code : String(error);
          failures.set(code, (failures.get(code) ?? 0) + 1);
        }
      }
    }),
  );
  return { samples, failures };
}

async function measure(store: Result['store'], env: Record<string, string>): Promise<Result> {
  const { coordinator, url, token, maxWaitTimeMs } = await Coordinator.start(env);
  const clients = Array.from({ length: REQUESTERS }, () => new PoolClient({ url, token }));
  const rand = random(SEED);
  try {
    await drive(clients, WARMUP, rand, 'warmup');
    const start = await coordinator.memory();
    const load0 = os.loadavg()[0]!;
    const t0 = performance.now();
    const { samples, failures } = await drive(clients, ALLOCATIONS, rand, 'run');
    const wallMs = performance.now() - t0;
    const end = await coordinator.memory();
    return {
      store,
      samples,
      failures,
      wallMs,
      rssStart: start.rssBytes,
      rssEnd: end.rssBytes,
      heapStart: start.heapUsedBytes,
      heapEnd: end.heapUsedBytes,
      gcForced: start.gcForced && end.gcForced,
      maxWaitTimeMs,
      load: `${load0.toFixed(2)} → ${os.loadavg()[0]!.toFixed(2)}`,
    };
  } finally {
    for (const c of clients) c.close();
    await coordinator.stop();
  }
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
}

function render(results: Result[]): string {
  const mb = (b: number) => (b / 2 ** 20).toFixed(1);
  const lines = [
    `### Scale: ${REQUESTERS} requesters, ${ALLOCATIONS} allocations on ${CONTAINERS} containers (after ${WARMUP} warm-up)`,
    '',
    `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; fake runtime; ` +
      `each holder keeps its lease ${HOLD_MS[0]}–${HOLD_MS[1]} ms; priorities drawn per request (` +
      TEST_PRIORITIES.map((p) => `${p} ${Math.round(MIX[p] * 100)} %`).join(', ') +
      '); wait = worker-side, request sent → lease in hand.',
    '',
    '| store | priority | n | wait p50 ms | wait p95 ms | wait max ms | max ÷ bound |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    for (const p of TEST_PRIORITIES) {
      const waits = r.samples.filter((s) => s.priority === p).map((s) => s.waitMs).sort((a, b) => a - b);
      const max = waits.at(-1) ?? 0;
      lines.push(`| ${r.store} | ${p} | ${waits.length} | ${quantile(waits, 0.5).toFixed(1)} | ${quantile(waits, 0.95).toFixed(1)} | ${max.toFixed(1)} | ${(max / r.maxWaitTimeMs).toExponential(1)} |`);
    }
  }
  lines.push(
    '',
    '| store | allocations done | failed (code: n) | wall s | allocations/s | coordinator RSS start → end MiB | RSS growth | heap used start → end MiB | GC forced | load avg (1 min) |',
    '|---|---:|---|---:|---:|---:|---:|---:|:-:|---|',
  );
  for (const r of results) {
    const failed = [...r.failures].map(([c, n]) => `${c}: ${n}`).join(', ') || '0';
    const growth = ((r.rssEnd - r.rssStart) / r.rssStart) * 100;
    lines.push(
      `| ${r.store} | ${r.samples.length} | ${failed} | ${(r.wallMs / 1000).toFixed(2)} | ${Math.round(r.samples.length / (r.wallMs / 1000))} | ${mb(r.rssStart)} → ${mb(r.rssEnd)} | ${growth >= 0 ? '+' : ''}${growth.toFixed(1)} % | ${mb(r.heapStart)} → ${mb(r.heapEnd)} | ${r.gcForced ? 'yes' : 'no'} | ${r.load} |`,
    );
  }
  lines.push('', `Bound: resources.maxWaitTimeMs = ${results[0]?.maxWaitTimeMs ?? 0} ms (the configured limit on any wait; see the notes below the table).`);
  return lines.join('\n');
}

export async function run(): Promise<string> {
  const results: Result[] = [await measure('memory', {})];
  if (process.env.BENCH_SCALE_REDIS !== '0') {
    const redis = await startTestRedis();
    try {
      results.push(await measure('redis', { SCALE_REDIS_URL: redis.url }));
    } finally {
      await redis.stop();
    }
  }
  return render(results);
}

// Runnable on its own: `npx tsx bench/scale.ts`.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) console.log(await run());
