import { spawn, execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { removeLeftovers, startHandWired, type HandWiredContainers } from './throughput/hand-wired.js';
import { VARIANTS, warmPoolId, writeProjects, type Variant, type VariantName } from './throughput/project.js';
import type { RunTimings } from './throughput/timing-reporter.js';
import { WORKLOAD_TESTS } from './throughput/workload.js';
import { pickPorts, playwrightTest, startShop } from './throughput/bench-processes.js';
import { median } from './throughput/median.js';

/**
 * Suite throughput (issue 5, benchmark 1): one workload of 40 MCP tests (navigate, click, read a snapshot)
 * generated as a Playwright project in a temp dir and run with the real `npx playwright test` five ways —
 * (a) through the pool, (w) through the pool with `reuse: true` (issue 13: every measured run takes over the
 * members the run before left; one unmeasured run first), (b) a testcontainers container per test at 2 and 4 at
 * once, (c) two hand-started containers with workers bound to them — in interleaved rounds (a, w, b2, b4, c, a,
 * ...) so that the load of a shared machine falls on every variant alike. Reports median wall times, the ratios
 * the issues set goals for, and the 1-minute load average around each run.
 *
 * BENCH_THROUGHPUT_ROUNDS (default 3) sets the rounds; BENCH_THROUGHPUT_ONLY=a,c runs a subset.
 */
const ROUNDS = Number(process.env.BENCH_THROUGHPUT_ROUNDS ?? 3);
const ONLY = new Set((process.env.BENCH_THROUGHPUT_ONLY ?? '').split(',').filter(Boolean));
const POOL_ID = 'bench-throughput';
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const execFileAsync = promisify(execFile);

interface Sample {
  round: number;
  variant: VariantName;
  /** Spawn of `npx playwright test` to its exit, ms. */
  wallMs: number;
  /** First test start → last test end, ms. */
  testPhaseMs: number;
  passed: number;
  failed: number;
  load1: number;
  timings?: RunTimings;
  /** Epoch ms when `npx playwright test` was spawned. */
  spawnedAt: number;
  /** (c) only: starting its two containers before the run, ms (not in wallMs). */
  preStartMs?: number;
  problem?: string;
}

export async function run(): Promise<string> {
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  const docker = new Docker();
  const image = await imageTag();
  const root = await mkdtemp(join(tmpdir(), 'throughput-bench-'));
  const ports = await pickPorts();
  let shop: ReturnType<typeof spawn> | undefined;
  let hand: HandWiredContainers | undefined;
  let warmStarted = false;
  const samples: Sample[] = [];
  const loadStart = loadavg()[0]!;
  const othersAtStart = await otherContainers(docker);
  try {
    await removeLeftovers(docker, POOL_ID);
    // A warm pool an interrupted bench left: (w)'s first run must start its members, not find them.
    await poolDown(warmPoolId(POOL_ID)).catch(() => undefined);
    shop = await startShop(ports.shop, '0.0.0.0');
    const configs = await writeProjects(root, repoRoot, { basePort: ports.base, warmBasePort: ports.warmBase, image, poolId: POOL_ID, namePrefix: 'bench-tp-mcp' });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SHOP_URL: `http://localhost:${ports.shop}`,
      THROUGHPUT_IMAGE: image,
      TESTCONTAINERS_RYUK_DISABLED: 'true',
      CINNAMON_POOL_RUNTIME: 'docker',
      // The bench must not inherit a CI flag that turns on forbidOnly or changes reporters (or reuse).
      CI: '',
      // Each variant's config says whether its pool is reused: (a) cold, (w) warm.
      CINNAMON_POOL_REUSE: undefined,
    };
    const variants = VARIANTS.filter((v) => ONLY.size === 0 || ONLY.has(v.name));
    // Unmeasured: `--list` loads every config and spec, so Playwright's compile cache is warm for all alike.
    for (const v of variants) await playwrightTest(configs.get(v.name)!, ['--list'], env, join(root, `${v.name}-list.log`));
    // Unmeasured: the warm variant's first run starts the members every measured run of it takes over.
    if (variants.some((v) => v.reuse)) {
      warmStarted = true; // whatever its exit: it may have left members running
      const code = await playwrightTest(configs.get('w')!, [], env, join(root, 'w-first.log'));
      if (code !== 0) throw new Error(`the warm variant's first run exited ${code}: ${(await readFile(join(root, 'w-first.log'), 'utf8')).split('\n').slice(-12).join(' | ')}`);
    }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const variant of variants) {
        const extraEnv: NodeJS.ProcessEnv = {};
        let preStartMs: number | undefined;
        if (variant.name === 'c') {
          hand = await startHandWired(docker, image, ports.hand, `r${round}`);
          preStartMs = hand.startMs;
          extraEnv.THROUGHPUT_BOUND_URLS = hand.urls.join(',');
          extraEnv.THROUGHPUT_BOUND_HEADERS = JSON.stringify(hand.headers);
        }
        try {
          const sample = await measure(variant, round, configs.get(variant.name)!, { ...env, ...extraEnv }, root);
          if (preStartMs !== undefined) sample.preStartMs = preStartMs;
          samples.push(sample);
          // A variant that cannot run at all would only burn the remaining rounds: stop and say why.
          if (sample.passed === 0) throw new Error(`variant ${variant.name} ran no test: ${sample.problem ?? 'no timings written'}`);
          console.error(
            `[throughput] round ${round} ${variant.name}: ${(sample.wallMs / 1000).toFixed(1)} s wall, ${sample.passed}/${WORKLOAD_TESTS} passed, load ${sample.load1.toFixed(2)}${sample.problem ? ` — ${sample.problem}` : ''}`,
          );
        } finally {
          await hand?.stop();
          hand = undefined;
        }
      }
    }
  } finally {
    await hand?.stop();
    if (shop?.pid) shop.kill('SIGTERM');
    await removeLeftovers(docker, POOL_ID).catch(() => 0);
    if (warmStarted) await poolDown(warmPoolId(POOL_ID)).catch((e: unknown) => console.error(`[throughput] cinnamon-pool down: ${String(e)}`));
    await rm(root, { recursive: true, force: true });
  }
  return report(samples, image, loadStart, loadavg()[0]!, othersAtStart);
}

async function imageTag(): Promise<string> {
  const { stdout } = await execFileAsync('bash', [join(repoRoot, 'docker/build-image.sh')], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 });
  const tag = stdout.trim().split('\n').pop()?.trim();
  if (!tag) throw new Error('docker/build-image.sh printed no image tag');
  return tag;
}

/** The warm variant's members, left running by its last run: stopped as a user would (`cinnamon-pool down`). */
async function poolDown(poolId: string): Promise<void> {
  await execFileAsync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'down', '--pool-id', poolId], { cwd: repoRoot });
}

async function measure(variant: Variant, round: number, config: string, env: NodeJS.ProcessEnv, root: string): Promise<Sample> {
  const timingsFile = join(root, `${variant.name}-r${round}.json`);
  const logFile = join(root, `${variant.name}-r${round}.log`);
  const load1 = loadavg()[0]!;
  const spawnedAt = Date.now();
  const started = performance.now();
  const code = await playwrightTest(config, [], { ...env, THROUGHPUT_TIMINGS_FILE: timingsFile }, logFile);
  const wallMs = performance.now() - started;
  let timings: RunTimings | undefined;
  try {
    timings = JSON.parse(await readFile(timingsFile, 'utf8')) as RunTimings;
  } catch {
    timings = undefined;
  }
  // Only the workload's own tests: variant (a) also runs the pool's analytics teardown project as a "test".
  const tests = workloadTests(timings);
  const passed = tests.filter((t) => t.status === 'passed').length;
  const phase = tests.length ? Math.max(...tests.map((t) => t.endMs)) - Math.min(...tests.map((t) => t.startMs)) : Number.NaN;
  const sample: Sample = { round, variant: variant.name, spawnedAt, wallMs, testPhaseMs: phase, passed, failed: tests.length - passed, load1 };
  if (timings) sample.timings = timings;
  if (code !== 0 || passed !== WORKLOAD_TESTS) {
    const log = await readFile(logFile, 'utf8').catch(() => '');
    const firstError = tests.find((t) => t.error)?.error ?? log.split('\n').filter(Boolean).slice(-8).join(' | ');
    sample.problem = `exit ${code}, ${passed}/${WORKLOAD_TESTS} passed: ${firstError.replace(/\s+/g, ' ').slice(0, 300)}`;
  }
  return sample;
}

function workloadTests(timings: RunTimings | undefined): RunTimings['tests'] {
  return (timings?.tests ?? []).filter((t) => /^#\d+ /.test(t.title));
}

async function otherContainers(docker: Docker): Promise<string[]> {
  const list = await docker.listContainers().catch(() => []);
  return list.map((c) => (c.Names[0] ?? c.Id).replace(/^\//, ''));
}

// ------------------------------------------------------------------------------------------------ report

const s = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(1) : '–');
const x = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : '–');

/**
 * Where a run's wall time goes: spawn → first test starts, the test phase, last test ends → reporters' onEnd
 * (worker teardown, the pool's analytics project and shutdown run here), onEnd → process exit.
 */
function phases(x: Sample): { startMs: number; tailMs: number; exitMs: number } {
  const tests = workloadTests(x.timings);
  if (!x.timings || tests.length === 0) return { startMs: Number.NaN, tailMs: Number.NaN, exitMs: Number.NaN };
  const first = Math.min(...tests.map((t) => t.startMs));
  const last = Math.max(...tests.map((t) => t.endMs));
  return { startMs: first - x.spawnedAt, tailMs: x.timings.endMs - last, exitMs: x.spawnedAt + x.wallMs - x.timings.endMs };
}

/** Per-run profile: mean test duration (fixtures included), mean idle gap between consecutive tests of a worker slot. */
function profile(timings: RunTimings | undefined): { meanTestMs: number; meanGapMs: number; meanPoolWaitMs: number } {
  const tests = workloadTests(timings);
  const meanTestMs = tests.reduce((sum, t) => sum + t.durationMs, 0) / Math.max(1, tests.length);
  const bySlot = new Map<number, typeof tests>();
  for (const t of tests) bySlot.set(t.parallelIndex, [...(bySlot.get(t.parallelIndex) ?? []), t]);
  const gaps: number[] = [];
  for (const slot of bySlot.values()) {
    slot.sort((p, q) => p.startMs - q.startMs);
    for (let i = 1; i < slot.length; i++) gaps.push(slot[i]!.startMs - slot[i - 1]!.endMs);
  }
  const waits = tests.flatMap((t) => (t.poolWaitMs !== undefined ? [t.poolWaitMs] : []));
  return {
    meanTestMs,
    meanGapMs: gaps.length ? gaps.reduce((a, b) => a + b, 0) / gaps.length : Number.NaN,
    meanPoolWaitMs: waits.length ? waits.reduce((a, b) => a + b, 0) / waits.length : Number.NaN,
  };
}

function report(samples: Sample[], image: string, loadStart: number, loadEnd: number, others: string[]): string {
  const by = (name: VariantName) => samples.filter((x) => x.variant === name);
  const med = (name: VariantName, f: (x: Sample) => number) => median(by(name).map(f));
  const rounds = Math.max(0, ...samples.map((x) => x.round));
  const loads = samples.map((x) => x.load1);
  const lines: string[] = [];
  lines.push(`### Suite throughput: ${WORKLOAD_TESTS} MCP tests (navigate, click, snapshot), ${rounds} interleaved rounds`);
  lines.push('');
  lines.push(
    `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, Node ${process.version}, image ${image}, ${new Date().toISOString().slice(0, 10)}. ` +
      `1-minute load average ${loadStart.toFixed(2)} at start, ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)} (median ${median(loads).toFixed(2)}) at the runs' starts, ${loadEnd.toFixed(2)} at the end; ` +
      `other containers running at start: ${others.length ? others.join(', ') : 'none'}.`,
  );
  lines.push('');
  lines.push('| variant | workers | median wall s | min–max s | median test phase s | mean test s | mean gap between a worker\'s tests ms | passed |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const v of VARIANTS) {
    const list = by(v.name);
    if (!list.length) continue;
    const walls = list.map((x) => x.wallMs);
    const prof = list.map((x) => profile(x.timings));
    const extra = v.name === 'c' ? ` (+ ${s(median(list.map((x) => x.preStartMs ?? Number.NaN)))} s starting the containers before)` : '';
    lines.push(
      `| ${v.label} | ${v.workers} | ${s(median(walls))}${extra} | ${s(Math.min(...walls))}–${s(Math.max(...walls))} | ${s(med(v.name, (x) => x.testPhaseMs))} | ` +
        `${s(median(prof.map((p) => p.meanTestMs)))} | ${median(prof.map((p) => p.meanGapMs)).toFixed(0)} | ${list.reduce((a, x) => a + x.passed, 0)}/${list.length * WORKLOAD_TESTS} |`,
    );
  }
  const a = med('a', (x) => x.wallMs);
  const b2 = med('b2', (x) => x.wallMs);
  const b4 = med('b4', (x) => x.wallMs);
  const w = med('w', (x) => x.wallMs);
  const c = med('c', (x) => x.wallMs);
  const cWithStart = med('c', (x) => x.wallMs + (x.preStartMs ?? 0));
  lines.push('');
  lines.push('| ratio (median wall) | goal | result | met |');
  lines.push('|---|---|---:|:-:|');
  lines.push(`| a ÷ c | ≤ 1.10× (issue 5), ≤ 0.95× (issue 13) | ${x(a / c)} (${x(a / cWithStart)} counting (c)'s container start) | ${a / c <= 0.95 ? 'yes' : a / c <= 1.1 ? 'issue 5 only' : '**no**'} |`);
  lines.push(`| w ÷ c (warm pool) | ≤ 0.90× (issue 13) | ${x(w / c)} (${x(w / cWithStart)} counting (c)'s container start) | ${w / c <= 0.9 ? 'yes' : '**no**'} |`);
  lines.push(`| b2 ÷ a | ≥ 1.8× | ${x(b2 / a)} | ${b2 / a >= 1.8 ? 'yes' : '**no**'} |`);
  lines.push(`| b4 ÷ a | ≥ 1.3× | ${x(b4 / a)} | ${b4 / a >= 1.3 ? 'yes' : '**no**'} |`);
  lines.push(`| b2 ÷ c, b4 ÷ c (issue: ≈ 2.0×, ≈ 1.5×) | – | ${x(b2 / c)}, ${x(b4 / c)} | – |`);
  const waits = by('a').map((x) => profile(x.timings).meanPoolWaitMs);
  if (waits.length) {
    lines.push('');
    lines.push(
      `(a) profile: median of the runs' mean \`pool.waitMs\` per test ${median(waits).toFixed(0)} ms (time queued for a container before the test, ` +
        `outside the test's duration).`,
    );
  }
  lines.push('');
  lines.push('| variant | spawn → first test s | test phase s | last test → onEnd s | onEnd → exit s |');
  lines.push('|---|---:|---:|---:|---:|');
  for (const v of VARIANTS) {
    const list = by(v.name);
    if (!list.length) continue;
    const p = list.map(phases);
    lines.push(`| ${v.name} | ${s(median(p.map((q) => q.startMs)))} | ${s(med(v.name, (q) => q.testPhaseMs))} | ${s(median(p.map((q) => q.tailMs)))} | ${s(median(p.map((q) => q.exitMs)))} |`);
  }
  lines.push('');
  lines.push('Per round (wall s, load at start): ' + [...new Set(samples.map((x) => x.round))].map((r) => `r${r}: ` + samples.filter((x) => x.round === r).map((x) => `${x.variant} ${s(x.wallMs)} (${x.load1.toFixed(1)})`).join(', ')).join('; ') + '.');
  const problems = samples.filter((x) => x.problem);
  if (problems.length) {
    lines.push('');
    lines.push('Runs with failures: ' + problems.map((x) => `r${x.round} ${x.variant}: ${x.problem}`).join('; '));
  }
  return lines.join('\n');
}

// Run directly: `npx tsx bench/suite-throughput.ts` (the lead registers it in bench/run.ts as `throughput`).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(await run());
}
