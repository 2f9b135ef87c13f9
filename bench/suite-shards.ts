import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { REPO_ROOT, startAgent } from '../test/multihost/support/host-agent.js';
import { cleanupStale, createTestNetwork, type NetnsChild, type TestNetwork } from '../test/multihost/support/netns.js';
import { multihostUnavailable } from '../test/multihost/support/preconditions.js';
import { startRedisOnBridge, type BridgeRedis } from '../test/multihost/support/redis-on-bridge.js';
import { SHARD_OUTPUT_DIR_ENV } from '../test/multihost/support/shard-env.js';

/**
 * Issue 11: wall time of the example suite (playwright.config.ts, 4 workers) as two shards sharing one pool of
 * 2 hosts × 2 process members, against one machine running the whole suite with 4 process members of its own.
 * Every "machine" is a network namespace of the multi-host tier (test/multihost/support): agents h1 and h2,
 * shards s1 and s2 (`playwright test --shard=i/2`, CINNAMON_POOL_MODE=shared), and m1 for the one-machine run,
 * all on one Redis on the bridge; they share this machine's 2 cores, so this measures the coordination cost of
 * sharing, not the speed-up real extra machines would give.
 *
 * Timed: spawn → exit of `npx playwright test` (for the shards: both spawned at once, until the last exits). The
 * agents are up before the clock starts (in production they serve before any run); the one-machine run starts
 * its 4 members inside its time (globalSetup), as a run does. Rounds alternate which variant goes first.
 */
const ROUNDS = Number(process.env.BENCH_SUITE_ROUNDS ?? 1);
const SHARD_CONFIG = join(REPO_ROOT, 'test/multihost/support/shard.config.ts');

interface SuiteRun {
  wallS: number;
  passed: number;
  failed: boolean;
  load: number;
}

export async function run(): Promise<string> {
  const unavailable = multihostUnavailable();
  if (unavailable) return `### Suite wall time, 2 shards × 2 hosts vs one machine\n\nNot run: ${unavailable}`;
  const loadBefore = os.loadavg()[0]!;
  const started = new Date();
  await cleanupStale();
  const network = await createTestNetwork({ name: 'bench-suite-shards', hosts: ['h1', 'h2', 's1', 's2', 'm1'] });
  let redis: BridgeRedis | undefined;
  const agents: NetnsChild[] = [];
  try {
    redis = await startRedisOnBridge(network);
    const poolId = `bench-${network.names.id}-${process.pid}`;
    for (const host of ['h1', 'h2']) agents.push((await startAgent(network, host, { redisUrl: redis.url, poolId })).agent);
    // The one-machine run (.mts: an ES module, like the repository's files it imports): the same suite and outputs folder logic as a shard, with 4 members of its own.
    const oneMachineConfig = join(network.tmpDirFor('m1'), 'one-machine.config.mts');
    writeFileSync(
      oneMachineConfig,
      [
        `import base from ${JSON.stringify(SHARD_CONFIG)};`,
        `import { poolOptionsFromMetadata } from ${JSON.stringify(join(REPO_ROOT, 'src/coordinator/with-container-pool.ts'))};`,
        '// The root config asks for 2 containers; this machine gets as many as the two hosts serve together.',
        '(poolOptionsFromMetadata(base.metadata) as { containers?: number }).containers = 4;',
        'export default base;',
        '',
      ].join('\n'),
    );
    const shards: SuiteRun[] = [];
    const single: SuiteRun[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? (['shards', 'single'] as const) : (['single', 'shards'] as const);
      for (const which of order) {
        console.error(`suite-shards: round ${round + 1}, ${which}, load ${os.loadavg()[0]!.toFixed(2)}`);
        if (which === 'shards') shards.push(await runShards(network, redis.url, poolId, round));
        else single.push(await runOneMachine(network, oneMachineConfig, round));
      }
    }
    return report({ started, shards, single, loads: [loadBefore, os.loadavg()[0]!] });
  } finally {
    // Drain (SIGTERM; SIGKILL after 60 s), then the network's dispose ends whatever is left in the namespaces.
    await Promise.all(agents.map((a) => a.stop(60_000)));
    await network.dispose();
    await redis?.dispose();
  }
}

async function runShards(network: TestNetwork, redisUrl: string, poolId: string, round: number): Promise<SuiteRun> {
  const load = os.loadavg()[0]!;
  const t0 = performance.now();
  const children = (['s1', 's2'] as const).map((shard, i) =>
    network.exec(shard, ['npx', 'playwright', 'test', '-c', SHARD_CONFIG, `--shard=${i + 1}/2`], {
      cwd: REPO_ROOT,
      env: {
        CI: '1',
        CINNAMON_POOL_MODE: 'shared',
        REDIS_URL: redisUrl,
        CINNAMON_POOL_ID: poolId,
        CINNAMON_POOL_APP_HOST: network.addressOf(shard),
        [SHARD_OUTPUT_DIR_ENV]: outputDir(network, shard, round),
        TMPDIR: network.tmpDirFor(shard),
      },
    }),
  );
  const exits = await Promise.all(children.map((c) => c.exited));
  const wallS = (performance.now() - t0) / 1000;
  const failed = exits.some((e) => e.code !== 0);
  if (failed) children.forEach((c, i) => console.error(`shard s${i + 1} exit ${JSON.stringify(exits[i])}:\n${c.stdout().slice(-3000)}\n${c.stderr().slice(-2000)}`));
  return { wallS, passed: children.reduce((n, c) => n + passedIn(c.stdout()), 0), failed, load };
}

async function runOneMachine(network: TestNetwork, config: string, round: number): Promise<SuiteRun> {
  const load = os.loadavg()[0]!;
  const t0 = performance.now();
  const child = network.exec('m1', ['npx', 'playwright', 'test', '-c', config], {
    cwd: REPO_ROOT,
    env: { CI: '1', CINNAMON_POOL_RUNTIME: 'process', [SHARD_OUTPUT_DIR_ENV]: outputDir(network, 'm1', round), TMPDIR: network.tmpDirFor('m1') },
  });
  const exit = await child.exited;
  const wallS = (performance.now() - t0) / 1000;
  const failed = exit.code !== 0;
  if (failed) console.error(`one machine exit ${JSON.stringify(exit)}:\n${child.stdout().slice(-3000)}\n${child.stderr().slice(0, 3000)}`);
  // The pool's first line names its members: evidence that the 4-container override took.
  console.error(`one machine: ${child.stdout().split('\n').find((l) => /container|member/i.test(l)) ?? '(no pool line)'}`);
  return { wallS, passed: passedIn(child.stdout()), failed, load };
}

function outputDir(network: TestNetwork, host: string, round: number): string {
  const dir = join(network.tmpDirFor(host), `out-${round}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Playwright's summary line: "  42 passed (1.2m)". */
function passedIn(stdout: string): number {
  const match = /(\d+) passed/.exec(stdout);
  return match ? Number(match[1]) : 0;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function report(r: { started: Date; shards: SuiteRun[]; single: SuiteRun[]; loads: number[] }): string {
  const cpus = os.cpus();
  const row = (name: string, runs: SuiteRun[]) =>
    `| ${name} | ${runs.length} | ${median(runs.map((x) => x.wallS)).toFixed(1)} | ${runs.map((x) => `${x.wallS.toFixed(1)} (load ${x.load.toFixed(1)})`).join(', ')} | ${runs.map((x) => x.passed).join(', ')} | ${runs.filter((x) => x.failed).length} |`;
  const ratio = median(r.shards.map((x) => x.wallS)) / median(r.single.map((x) => x.wallS));
  return [
    `### Example suite wall time: 2 shards × 2 hosts vs one machine with 4 containers (${ROUNDS} round(s), alternating)`,
    '',
    `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${r.started.toISOString().slice(0, 16)}Z; 1-minute load ${r.loads.map((l) => l.toFixed(2)).join(' → ')}; every "machine" a network namespace on this one machine, process runtime`,
    '',
    '| variant | runs | median wall s | each run s (load at start) | tests passed | failed runs |',
    '|---|---:|---:|---|---:|---:|',
    row('2 shards (--shard=1/2, 2/2 at once, CINNAMON_POOL_MODE=shared) on 2 host agents × 2 members', r.shards),
    row('one machine: npx playwright test, 4 members of its own (started inside the time)', r.single),
    '',
    `Ratio of medians, shards ÷ one machine: ${ratio.toFixed(2)}×`,
  ].join('\n');
}
