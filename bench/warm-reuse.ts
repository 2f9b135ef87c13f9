import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopWarmPools } from '../src/cli/down-command.js';
import { freePort, freePortRanges } from '../test/support/ports.js';
import { writeProjects } from './throughput/project.js';
import type { RunTimings } from './throughput/timing-reporter.js';
import { WORKLOAD_TESTS } from './throughput/workload.js';
import { playwrightTest, startShop } from './throughput/bench-processes.js';
import { median } from './throughput/median.js';

/**
 * Warm pool between runs (issue 13, option reuse): the throughput workload (40 MCP tests through the pool,
 * process runtime) run cold (CINNAMON_POOL_REUSE=0) and warm (CINNAMON_POOL_REUSE=1, the members of the run
 * before taken over), interleaved (cold, warm, cold, ...) after one unmeasured warm run that leaves the members
 * running. Then the developer loop: one test (`-g "#01 "`) re-run cold and warm, interleaved. Reports medians of
 * spawn → first test start and of the wall time. Cold and warm use their own poolId and ports (a cold run's
 * reaping would otherwise end the warm members).
 *
 * BENCH_WARM_ROUNDS (default 3) rounds of the 40-test workload; BENCH_WARM_ONE (default 5) one-test re-runs each;
 * BENCH_WARM_RUNTIME `process` (default) or `docker` (the pool image docker/build-image.sh names, built before).
 */
const ROUNDS = Number(process.env.BENCH_WARM_ROUNDS ?? 3);
const ONE = Number(process.env.BENCH_WARM_ONE ?? 5);
const RUNTIME = process.env.BENCH_WARM_RUNTIME === 'docker' ? 'docker' : 'process';
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const WARM_POOL = 'bench-warm-reuse';
const COLD_POOL = 'bench-warm-cold';

type Kind = 'cold' | 'warm';
interface Sample {
  kind: Kind;
  workload: '40 tests' | '1 test';
  wallMs: number;
  startMs: number;
  passed: number;
  load1: number;
  reuseLine?: string;
  problem?: string;
}

export async function run(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'warm-bench-'));
  const shopPort = await freePort();
  const [coldBase, warmBase] = (await freePortRanges(2, 2)) as [number, number];
  // Docker members reach the shop as host.docker.internal (the fixture's appUrl), so it listens on every interface.
  const shop = await startShop(shopPort, RUNTIME === 'docker' ? '0.0.0.0' : '127.0.0.1');
  const image = RUNTIME === 'docker' ? execFileSync('bash', ['docker/build-image.sh', '--print-tag'], { cwd: repoRoot, encoding: 'utf8' }).trim().split('\n').pop()! : 'unused-process-runtime';
  const samples: Sample[] = [];
  const loadStart = loadavg()[0]!;
  try {
    const configs = new Map<Kind, string>();
    for (const [kind, base, poolId] of [['cold', coldBase, COLD_POOL], ['warm', warmBase, WARM_POOL]] as const) {
      const dir = join(root, kind);
      await mkdir(dir);
      const written = await writeProjects(dir, repoRoot, { basePort: base, image, poolId, namePrefix: `${poolId}-mcp` });
      configs.set(kind, written.get('a')!);
    }
    const env = (kind: Kind): NodeJS.ProcessEnv => ({
      ...process.env,
      SHOP_URL: `http://localhost:${shopPort}`,
      CINNAMON_POOL_RUNTIME: RUNTIME,
      CINNAMON_POOL_REUSE: kind === 'warm' ? '1' : '0',
      CI: '',
    });
    for (const kind of ['cold', 'warm'] as const) await playwrightTest(configs.get(kind)!, ['--list'], env(kind), join(root, `${kind}-list.log`));
    // Unmeasured: leaves the warm pool's members running for the first measured warm run.
    await measure('warm', '40 tests', configs.get('warm')!, env('warm'), root, 'prime');
    for (let round = 1; round <= ROUNDS; round++) {
      for (const kind of ['cold', 'warm'] as const) {
        const sample = await measure(kind, '40 tests', configs.get(kind)!, env(kind), root, `r${round}`);
        samples.push(sample);
        console.error(`[warm-reuse] round ${round} ${kind}: ${s(sample.wallMs)} s wall, first test after ${s(sample.startMs)} s, ${sample.passed}/${WORKLOAD_TESTS}${sample.problem ? ` — ${sample.problem}` : ''}`);
      }
    }
    for (let i = 1; i <= ONE; i++) {
      for (const kind of ['cold', 'warm'] as const) {
        const sample = await measure(kind, '1 test', configs.get(kind)!, env(kind), root, `one${i}`, ['-g', '#01 ']);
        samples.push(sample);
        console.error(`[warm-reuse] one-test ${i} ${kind}: ${s(sample.wallMs)} s wall, first test after ${s(sample.startMs)} s${sample.problem ? ` — ${sample.problem}` : ''}`);
      }
    }
  } finally {
    shop.kill('SIGTERM');
    await stopWarmPools({ poolId: WARM_POOL }).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
  return report(samples, loadStart, loadavg()[0]!);
}

async function measure(kind: Kind, workload: Sample['workload'], config: string, env: NodeJS.ProcessEnv, root: string, tag: string, args: string[] = []): Promise<Sample> {
  const timingsFile = join(root, `${kind}-${tag}.json`);
  const logFile = join(root, `${kind}-${tag}.log`);
  const load1 = loadavg()[0]!;
  const spawnedAt = Date.now();
  const started = performance.now();
  const code = await playwrightTest(config, args, { ...env, THROUGHPUT_TIMINGS_FILE: timingsFile }, logFile);
  const wallMs = performance.now() - started;
  const timings = await readFile(timingsFile, 'utf8').then((t) => JSON.parse(t) as RunTimings, () => undefined);
  const tests = (timings?.tests ?? []).filter((t) => /^#\d+ /.test(t.title));
  const passed = tests.filter((t) => t.status === 'passed').length;
  const startMs = tests.length ? Math.min(...tests.map((t) => t.startMs)) - spawnedAt : Number.NaN;
  const log = await readFile(logFile, 'utf8').catch(() => '');
  const reuseLine = log.split('\n').find((l) => /warm container\(s\) reused|warm pool not reused|no warm pool/.test(l));
  const expected = workload === '1 test' ? 1 : WORKLOAD_TESTS;
  const sample: Sample = { kind, workload, wallMs, startMs, passed, load1, ...(reuseLine ? { reuseLine: reuseLine.trim() } : {}) };
  if (code !== 0 || passed !== expected) sample.problem = `exit ${code}, ${passed}/${expected} passed: ${log.split('\n').filter(Boolean).slice(-6).join(' | ').slice(0, 300)}`;
  return sample;
}

const s = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(1) : '–');

function report(samples: Sample[], loadStart: number, loadEnd: number): string {
  const lines: string[] = [];
  lines.push(`### Warm pool between runs (reuse), ${RUNTIME} runtime: cold vs warm, interleaved`);
  lines.push('');
  lines.push(`${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, Node ${process.version}, ${new Date().toISOString()}; load ${loadStart.toFixed(1)} → ${loadEnd.toFixed(1)}. \`npm run bench -- warm-reuse\` (BENCH_WARM_RUNTIME=${RUNTIME}, BENCH_WARM_ROUNDS=${ROUNDS}, BENCH_WARM_ONE=${ONE}).`);
  lines.push('');
  lines.push('| workload | runs | spawn → first test, median (cold / warm) | wall, median (cold / warm) | warm ÷ cold wall | load 1-min (min–max) | failures |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const workload of ['40 tests', '1 test'] as const) {
    const of = (kind: Kind) => samples.filter((x) => x.workload === workload && x.kind === kind);
    const cold = of('cold');
    const warm = of('warm');
    if (!cold.length && !warm.length) continue;
    const loads = [...cold, ...warm].map((x) => x.load1);
    const wallRatio = median(warm.map((x) => x.wallMs)) / median(cold.map((x) => x.wallMs));
    const failures = [...cold, ...warm].filter((x) => x.problem).length;
    lines.push(
      `| ${workload} | ${cold.length} + ${warm.length} | ${s(median(cold.map((x) => x.startMs)))} / ${s(median(warm.map((x) => x.startMs)))} s | ` +
        `${s(median(cold.map((x) => x.wallMs)))} / ${s(median(warm.map((x) => x.wallMs)))} s | ${wallRatio.toFixed(2)}× | ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} | ${failures} |`,
    );
  }
  const reused = samples.filter((x) => x.kind === 'warm').map((x) => x.reuseLine ?? '(no reuse line)');
  lines.push('');
  lines.push(`Warm runs' reuse lines: ${[...new Set(reused.map((l) => l.replace(/\d+\.\d s/, 'X s')))].join(' · ')}`);
  const problems = samples.filter((x) => x.problem);
  if (problems.length) lines.push('', ...problems.map((x) => `- ${x.kind} ${x.workload}: ${x.problem}`));
  return lines.join('\n');
}
