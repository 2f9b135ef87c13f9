import { spawn } from 'node:child_process';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { SystemClock } from '../src/clock/clock.js';
import { parsePoolOptions } from '../src/config/pool-config.js';
import { openSharedPool, type SharedPoolParts } from '../src/coordinator/shared-pool-run.js';
import { ContainerPoolManager, type Allocation } from '../src/pool/container-pool-manager.js';
import { SILENT_LOGGER } from '../src/pool/pool-events.js';
import { RedisPoolStore } from '../src/store/redis-store.js';
import { FakeCleaner, FakeFence, FakeHealthGate, FakeResetter, FakeRuntime } from '../test/support/fakes.js';
import { freePortRange } from '../test/support/ports.js';
import { startTestRedis, type TestRedis } from '../test/support/redis-server.js';
import { round, summarize } from './latency.js';

/**
 * Issue 11, a shared pool across machines: (1) release on shard A → grant delivered on shard B, and (2) a shard's
 * allocate with a member free, next to the single-machine manager on the same Redis.
 *
 * One private redis-server. Each host agent is its own child process running `cinnamon-pool agent` (the CLI,
 * src/cli/main.ts, with real process-runtime members: @playwright/mcp behind its guard), as on a real host: its
 * renew timers, recycle watcher, cleanup and Chromium do not share the event loop of the shards measured here.
 * Shards (the `openSharedPool` a shard's globalSetup runs) and the single-machine manager run in this process.
 * What crosses machines in production is Redis (scripts, pub/sub) and HTTP; here both go over loopback, so a real
 * network's round trips are not in these figures.
 *
 * Handoff variants, interleaved round by round:
 * - notices: the product as shipped (the agent hears the release on the recycle channel, shard B hears the grant
 *   on the grant channel);
 * - shard polls: shard B without grant notices (its GrantWatch polls every 250 ms), the agent's recycle notice on;
 * - all poll: a second pool whose agent has no recycle notices either (its 1 s poll) and whose shard B polls.
 */
const HANDOFF_ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);
const ALLOCATE_ROUNDS = Number(process.env.BENCH_ALLOCATE_ROUNDS ?? 500);
const WARMUP = 10;
/** Shard B's wait budget: far above any handoff, so a grant found only at the deadline would show as a failure. */
const WAIT_MS = 60_000;

type Cleanup = () => Promise<unknown>;

interface Shard {
  name: string;
  parts: SharedPoolParts;
}

interface HandoffSample {
  /** A's release call → B's allocate resolved (grant delivered to the waiting request). */
  totalMs: number;
  /** A's release call → the grant notice heard by an observer (agent: recycle notice/poll, cleanup, dispatch). */
  toGrantMs: number;
  /** Grant notice heard → B's allocate resolved (B's notice or poll, grantsFor, delivery, endpoint, credential). */
  deliverMs: number;
  /** A's release call → release returned. */
  releaseCallMs: number;
}

interface Pool {
  poolId: string;
  observer: RedisPoolStore;
  /** performance.now() of each grant notice by request id. */
  noticeAt: Map<string, number>;
}

export async function run(): Promise<string> {
  const cleanups: Cleanup[] = [];
  const loadBefore = os.loadavg()[0]!;
  const started = new Date();
  const redis = await startTestRedis();
  cleanups.push(() => redis.stop());
  try {
    const withNotices = await startPool(redis, cleanups, 'xs-notice', 'h1', true);
    const a = await shard(redis, withNotices, cleanups, 'A', true);
    const variants: Array<{ label: string; pool: Pool; from: Shard; to: Shard; samples: HandoffSample[] }> = [];
    // BENCH_ROUNDS=0 (the allocate comparison alone) starts neither the second pool nor the other shards: this
    // process then holds shard A, the single-machine manager and the bench's observer only.
    if (HANDOFF_ROUNDS > 0) {
      const allPoll = await startPool(redis, cleanups, 'xs-poll', 'h2', false);
      const b = await shard(redis, withNotices, cleanups, 'B', true);
      const bPoll = await shard(redis, withNotices, cleanups, 'B (no grant notices)', false);
      const a2 = await shard(redis, allPoll, cleanups, 'A2', true);
      const b2 = await shard(redis, allPoll, cleanups, 'B2 (no grant notices)', false);
      variants.push(
        { label: 'notices (as shipped): agent hears the release, shard B hears the grant', pool: withNotices, from: a, to: b, samples: [] },
        { label: 'shard B polls (250 ms), no grant notices; agent recycle notice on', pool: withNotices, from: a, to: bPoll, samples: [] },
        { label: 'all poll: agent recycle poll (1 s) and shard B poll (250 ms), no notices', pool: allPoll, from: a2, to: b2, samples: [] },
      );
    }
    console.error(`cross-shard: ${HANDOFF_ROUNDS} handoff rounds per variant (+${WARMUP} warm-up), interleaved`);
    // BENCH_ROUNDS=0: the allocate comparison alone.
    for (let i = 0; HANDOFF_ROUNDS > 0 && i < WARMUP + HANDOFF_ROUNDS; i++) {
      // Rotate the order so no variant always runs first after the previous round's cleanup.
      for (let k = 0; k < variants.length; k++) {
        const v = variants[(i + k) % variants.length]!;
        const sample = await handoff(v.pool, v.from, v.to, `${i}`);
        if (i >= WARMUP) v.samples.push(sample);
      }
      if ((i + 1) % 50 === 0) console.error(`  round ${i + 1}, load ${os.loadavg()[0]!.toFixed(2)}`);
    }
    const loadMid = os.loadavg()[0]!;

    // (2) allocate with a member free: a shard of the shared pool vs the single-machine manager on the same Redis.
    const local = await localManager(redis, cleanups);
    const allocShard: number[] = [];
    const allocLocal: number[] = [];
    console.error(`cross-shard: ${ALLOCATE_ROUNDS} allocate rounds each (+${WARMUP * 5} warm-up), interleaved`);
    for (let i = 0; i < WARMUP * 5 + ALLOCATE_ROUNDS; i++) {
      const order = i % 2 === 0 ? (['shard', 'local'] as const) : (['local', 'shard'] as const);
      for (const which of order) {
        if (which === 'shard') {
          await allAvailable(withNotices);
          const t0 = performance.now();
          const held = await a.parts.manager.allocateContainerAdvanced({ testRunId: `alloc-${i}` });
          const ms = performance.now() - t0;
          await a.parts.manager.releaseContainer({ leaseId: held.lease.leaseId, token: held.lease.token });
          // The agent (another process) cleans the member: wait for it, so that its work is not under the next timing.
          await allAvailable(withNotices);
          if (i >= WARMUP * 5) allocShard.push(ms);
        } else {
          const t0 = performance.now();
          const held = await local.allocateContainerAdvanced({ testRunId: `local-${i}` });
          const ms = performance.now() - t0;
          const released = await local.releaseContainer({ leaseId: held.lease.leaseId, token: held.lease.token });
          await released.recycled;
          if (i >= WARMUP * 5) allocLocal.push(ms);
        }
      }
    }
    const loadAfter = os.loadavg()[0]!;
    return report({ started, variants, allocShard, allocLocal, loads: [loadBefore, loadMid, loadAfter] });
  } finally {
    for (const c of cleanups.splice(0).reverse()) await c().catch((e: unknown) => console.error(`cleanup: ${String(e)}`));
  }
}

/** One round: A holds both members, B waits, A releases one; B's grant is timed from A's release call. */
async function handoff(pool: Pool, from: Shard, to: Shard, tag: string): Promise<HandoffSample> {
  await allAvailable(pool);
  const m = from.parts.manager;
  const first = await m.allocateContainerAdvanced({ testRunId: `a1-${tag}` });
  const second = await m.allocateContainerAdvanced({ testRunId: `a2-${tag}` });
  const waiting = to.parts.manager.allocateContainerAdvanced({ testRunId: `b-${tag}`, timeoutMs: WAIT_MS });
  let resolvedAt = 0;
  const granted: Promise<Allocation> = waiting.then((allocation) => ((resolvedAt = performance.now()), allocation));
  await until(async () => (await pool.observer.listQueue()).length === 1, `shard ${to.name}'s request queued`);
  const t0 = performance.now();
  await m.releaseContainer({ leaseId: first.lease.leaseId, token: first.lease.token });
  const releaseCallMs = performance.now() - t0;
  const next = await granted;
  const noticeAt = pool.noticeAt.get(next.lease.requestId);
  pool.noticeAt.clear();
  if (next.lease.containerId !== first.lease.containerId) throw new Error(`round ${tag}: B got ${next.lease.containerId}, A released ${first.lease.containerId}`);
  await to.parts.manager.releaseContainer({ leaseId: next.lease.leaseId, token: next.lease.token });
  await m.releaseContainer({ leaseId: second.lease.leaseId, token: second.lease.token });
  const totalMs = resolvedAt - t0;
  // A notice lost (at-most-once) leaves the split unknown for that round: counted as NaN and left out of the split.
  const toGrantMs = noticeAt === undefined ? Number.NaN : noticeAt - t0;
  return { totalMs, toGrantMs, deliverMs: totalMs - toGrantMs, releaseCallMs };
}

async function startPool(redis: TestRedis, cleanups: Cleanup[], label: string, hostId: string, recycleNotices: boolean): Promise<Pool> {
  const poolId = `${label}-${process.pid}`;
  const basePort = await freePortRange(2);
  await startAgentProcess(cleanups, [
    'agent', '--redis-url', redis.url, '--host-id', hostId, '--containers', '2', '--base-port', String(basePort),
    '--runtime', 'process', '--advertise', '127.0.0.1', '--pool-id', poolId, '--drain-grace-ms', '1000',
  ], recycleNotices);
  const observer = new RedisPoolStore({ redis: redis.url, keyPrefix: `cinnamon-pool:${poolId}`, serverTime: true });
  cleanups.push(() => observer.close());
  const noticeAt = new Map<string, number>();
  const unsubscribe = await observer.subscribeGrants((ids) => {
    const at = performance.now();
    for (const id of ids) if (!noticeAt.has(id)) noticeAt.set(id, at);
  });
  cleanups.push(unsubscribe);
  return { poolId, observer, noticeAt };
}

/**
 * `cinnamon-pool agent ARGS` in a child process; resolves once it printed its ready line (members registered and
 * healthy). Without recycle notices it runs through bench/cross-shard-agent.ts, which makes the agent's recycle
 * subscription a no-op so its 1 s poll (RECYCLE_POLL_MS) is all that finds released members. Cleanup sends
 * SIGTERM (the agent drains) and waits for the exit.
 */
async function startAgentProcess(cleanups: Cleanup[], args: string[], recycleNotices: boolean): Promise<void> {
  const entry = recycleNotices ? 'src/cli/main.ts' : 'bench/cross-shard-agent.ts';
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    env: { ...process.env, REDIS_URL: '', BENCH_NO_RECYCLE_NOTICES: recycleNotices ? '' : '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  });
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    lines.once('line', () => resolve());
    void exited.then((code) => reject(new Error(`cross-shard bench: agent exited (${code}) before its ready line:\n${stderr}`)));
  });
}

/** A shard as globalSetup opens it (openSharedPool); without grant notices, its GrantWatch can only poll. */
async function shard(redis: TestRedis, pool: Pool, cleanups: Cleanup[], name: string, grantNotices: boolean): Promise<Shard> {
  const input = {
    pool: parsePoolOptions({ poolId: pool.poolId }),
    plugin: { redisUrl: redis.url, appHost: '127.0.0.1' },
    clock: new SystemClock(),
    logger: SILENT_LOGGER,
    onCleanup: (c: Cleanup) => cleanups.push(c),
  };
  if (grantNotices) return { name, parts: await openSharedPool(input) };
  // The manager looks for subscribeGrants once, in its constructor (grantNoticesOf); hidden for this shard only.
  const original = Object.getOwnPropertyDescriptor(RedisPoolStore.prototype, 'subscribeGrants')!;
  Object.defineProperty(RedisPoolStore.prototype, 'subscribeGrants', { ...original, value: undefined });
  try {
    return { name, parts: await openSharedPool(input) };
  } finally {
    Object.defineProperty(RedisPoolStore.prototype, 'subscribeGrants', original);
  }
}

/** The single-machine shape of the allocation bench's "manager + redis store" row (fake runtime, same Redis). */
async function localManager(redis: TestRedis, cleanups: Cleanup[]): Promise<ContainerPoolManager> {
  const store = new RedisPoolStore({ redis: redis.url, keyPrefix: `xs-local-${process.pid}` });
  cleanups.push(() => store.close());
  const runtime = new FakeRuntime();
  const manager = new ContainerPoolManager({
    fence: new FakeFence().fence,
    config: parsePoolOptions({}),
    store,
    runtime,
    health: new FakeHealthGate(runtime),
    cleaner: new FakeCleaner(),
    resetter: new FakeResetter(),
  });
  cleanups.push(() => manager.shutdown());
  await manager.initialize();
  return manager;
}

async function allAvailable(pool: Pool): Promise<void> {
  await until(async () => (await pool.observer.listContainers()).every((c) => c.state === 'Available'), `pool ${pool.poolId}'s members Available`);
}

async function until(check: () => Promise<boolean>, what: string, budgetMs = 30_000): Promise<void> {
  const deadline = performance.now() + budgetMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`cross-shard bench: waited ${budgetMs} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function ms(values: number[]): { n: number; p50: number; p99: number; max: number; mean: number } {
  const finite = values.filter(Number.isFinite);
  const s = summarize(finite.map((v) => v * 1e6));
  return { n: s.n, p50: round(s.p50us / 1000, 2), p99: round(s.p99us / 1000, 2), max: round(Math.max(...finite), 2), mean: round(s.meanUs / 1000, 2) };
}

function report(r: {
  started: Date;
  variants: Array<{ label: string; samples: HandoffSample[] }>;
  allocShard: number[];
  allocLocal: number[];
  loads: number[];
}): string {
  const cpus = os.cpus();
  const lines = [
    `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${r.started.toISOString().slice(0, 16)}Z; ` +
      `1-minute load ${r.loads.map((l) => l.toFixed(2)).join(' → ')} (start → after handoffs → end); one redis-server; each host agent (2 process members) ` +
      'in its own child process (`cinnamon-pool agent`); shards and the single-machine manager in the bench process; all on loopback',
  ];
  if (r.variants.some((v) => v.samples.length)) lines.push(
    '',
    `### Release on shard A → grant delivered on shard B (${HANDOFF_ROUNDS} rounds per variant after ${WARMUP} warm-up, interleaved)`,
    '',
    '| variant | n | total p50 ms | total p99 ms | total max ms | release → grant made p50 / p99 ms | grant made → delivered to B p50 / p99 ms | release call p50 / p99 ms | notice missed |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const v of r.variants.filter((x) => x.samples.length)) {
    const total = ms(v.samples.map((s) => s.totalMs));
    const toGrant = ms(v.samples.map((s) => s.toGrantMs));
    const deliver = ms(v.samples.map((s) => s.deliverMs));
    const call = ms(v.samples.map((s) => s.releaseCallMs));
    const missed = v.samples.filter((s) => !Number.isFinite(s.toGrantMs)).length;
    lines.push(
      `| ${v.label} | ${total.n} | ${total.p50} | ${total.p99} | ${total.max} | ${toGrant.p50} / ${toGrant.p99} | ${deliver.p50} / ${deliver.p99} | ${call.p50} / ${call.p99} | ${missed} |`,
    );
  }
  const shard = ms(r.allocShard);
  const local = ms(r.allocLocal);
  lines.push(
    '',
    `### Allocate with a member free (${ALLOCATE_ROUNDS} rounds each after ${WARMUP * 5} warm-up, interleaved)`,
    '',
    '| path | n | allocate p50 ms | allocate p99 ms | max ms | mean ms | p99 ÷ single machine |',
    '|---|---:|---:|---:|---:|---:|---:|',
    `| shard of a shared pool: manager over RemoteHosts, Redis time, member of host agent h1 (endpoint from its record, credential signed) | ${shard.n} | ${shard.p50} | ${shard.p99} | ${shard.max} | ${shard.mean} | ${(shard.p99 / local.p99).toFixed(2)}× |`,
    `| single machine: manager + redis store, fake runtime (the allocation bench's row) | ${local.n} | ${local.p50} | ${local.p99} | ${local.max} | ${local.mean} | 1.00× |`,
  );
  return lines.join('\n');
}
