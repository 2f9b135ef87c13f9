import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { stopWarmPools } from '../src/cli/down-command.js';
import { pickPorts, playwrightTest, startShop } from './throughput/bench-processes.js';
import { removeLeftovers, startHandWired } from './throughput/hand-wired.js';
import { median } from './throughput/median.js';
import { VARIANTS, warmPoolId, writeProjects, type VariantName } from './throughput/project.js';

/**
 * Where spawn → first test goes (issue 13): the throughput bench's projects (a) cold pool, (w) warm pool and (c)
 * hand-wired, Docker, each run with 4 of the workload's tests under `DEBUG=pw:test:task,pw:test:protocol`, whose
 * lines carry ISO timestamps. From them, per run: spawn → Playwright's "global setup" task, how long it took, →
 * every worker "ready", → the first testBegin, and "test suite" finished → exit. Interleaved a, w, c after one
 * unmeasured (w) run that leaves its members warm; (c)'s containers start before its spawn, as in the throughput
 * bench. BENCH_TIMELINE_RUNS (default 3) runs each; the table shows medians.
 */
const RUNS = Number(process.env.BENCH_TIMELINE_RUNS ?? 3);
const POOL_ID = 'bench-timeline';
const GREP = ['-g', '#0[1-4] '];
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const MEASURED: readonly VariantName[] = ['a', 'w', 'c'];

interface Timeline {
  variant: VariantName;
  globalSetupStart?: number;
  globalSetupEnd?: number;
  /** Each worker's "ready", in order. */
  ready: number[];
  firstTest?: number;
  suiteEnd?: number;
  /** (w): the pool's line on the members it took over. */
  reuseLine?: string;
  exit: number;
  code: number;
}

export async function run(): Promise<string> {
  const docker = new Docker();
  const image = execFileSync('bash', ['docker/build-image.sh', '--print-tag'], { cwd: repoRoot, encoding: 'utf8' }).trim().split('\n').pop()!;
  const root = await mkdtemp(join(tmpdir(), 'timeline-bench-'));
  const { shop: shopPort, base, warmBase, hand } = await pickPorts();
  const shop = await startShop(shopPort, '0.0.0.0');
  const timelines: Timeline[] = [];
  const loadStart = loadavg()[0]!;
  try {
    await removeLeftovers(docker, POOL_ID);
    await stopWarmPools({ poolId: warmPoolId(POOL_ID) });
    const configs = await writeProjects(root, repoRoot, { basePort: base, warmBasePort: warmBase, image, poolId: POOL_ID, namePrefix: 'bench-tl-mcp' });
    const env: NodeJS.ProcessEnv = { ...process.env, SHOP_URL: `http://localhost:${shopPort}`, CINNAMON_POOL_RUNTIME: 'docker', CI: '', CINNAMON_POOL_REUSE: undefined, DEBUG_COLORS: '0' };
    for (const name of MEASURED) await playwrightTest(configs.get(name)!, ['--list'], env, join(root, `${name}-list.log`));
    await playwrightTest(configs.get('w')!, GREP, env, join(root, 'w-first.log'));
    for (let i = 1; i <= RUNS; i++) {
      for (const name of MEASURED) {
        const wired = name === 'c' ? await startHandWired(docker, image, hand, `tl${i}`) : undefined;
        try {
          const extra = wired ? { THROUGHPUT_BOUND_URLS: wired.urls.join(','), THROUGHPUT_BOUND_HEADERS: JSON.stringify(wired.headers) } : {};
          const log = join(root, `${name}-${i}.log`);
          const spawnedAt = Date.now();
          const code = await playwrightTest(configs.get(name)!, GREP, { ...env, ...extra, DEBUG: 'pw:test:task,pw:test:protocol' }, log);
          const timeline = parseTimeline(name, await readFile(log, 'utf8'), spawnedAt, Date.now() - spawnedAt, code);
          timelines.push(timeline);
          console.error(`[timeline] ${name} #${i}: first test ${sec(timeline.firstTest)} s after spawn, exit ${code}`);
        } finally {
          await wired?.stop();
        }
      }
    }
  } finally {
    shop.kill('SIGTERM');
    await stopWarmPools({ poolId: warmPoolId(POOL_ID) }).catch(() => undefined);
    await removeLeftovers(docker, POOL_ID).catch(() => 0);
    await rm(root, { recursive: true, force: true });
  }
  return report(timelines, image, loadStart, loadavg()[0]!);
}

/** The milestones of one run, in ms since its spawn, read from Playwright's debug lines. */
function parseTimeline(variant: VariantName, log: string, spawnedAt: number, exit: number, code: number): Timeline {
  const timeline: Timeline = { variant, ready: [], exit, code };
  for (const line of log.split('\n')) {
    const reused = /warm pool: (\d+ warm container\(s\) reused .*)$/.exec(line);
    if (reused) timeline.reuseLine = reused[1]!.replace(/\d+\.\d s/g, 'X s');
    const match = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) pw:test:\S+ (.*)$/.exec(line);
    if (!match) continue;
    const at = Date.parse(match[1]!) - spawnedAt;
    const text = match[2]!;
    if (text === '"global setup" started') timeline.globalSetupStart ??= at;
    else if (text === '"global setup" finished') timeline.globalSetupEnd ??= at;
    else if (text.includes('RECV {"method":"ready"}')) timeline.ready.push(at);
    else if (text.includes('"method":"testBegin"')) timeline.firstTest ??= at;
    else if (text === '"test suite" finished') timeline.suiteEnd ??= at;
  }
  return timeline;
}

const sec = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? '–' : (ms / 1000).toFixed(2));

function report(timelines: Timeline[], image: string, loadStart: number, loadEnd: number): string {
  const lines = [
    `### Where spawn → first test goes: 4 tests, Docker, median of ${RUNS} runs`,
    '',
    `${new Date().toISOString()}, image ${image}; 1-minute load ${loadStart.toFixed(2)} at start, ${loadEnd.toFixed(2)} at the end. \`npm run bench -- start-timeline\` (BENCH_TIMELINE_RUNS=${RUNS}).`,
    '',
    '| variant | workers | spawn → globalSetup s | globalSetup s | → first worker ready s | → all workers ready s | first ready → first test s | spawn → first test s | tests done → exit s | failed runs |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const name of MEASURED) {
    const variant = VARIANTS.find((v) => v.name === name)!;
    const runs = timelines.filter((t) => t.variant === name);
    const pick = (f: (t: Timeline) => number | undefined) => sec(median(runs.map((t) => f(t) ?? Number.NaN)));
    // Workers start after globalSetup; (c) has none, so its columns count from spawn.
    const from = (t: Timeline) => t.globalSetupEnd ?? 0;
    const ready = (t: Timeline, i: number) => (t.ready[i] ?? Number.NaN) - from(t);
    lines.push(
      `| ${variant.label} | ${variant.workers} | ${pick((t) => t.globalSetupStart)} | ${pick((t) => (t.globalSetupEnd ?? Number.NaN) - (t.globalSetupStart ?? Number.NaN))} | ${pick((t) => ready(t, 0))} | ${pick((t) => ready(t, variant.workers - 1))} | ${pick((t) => (t.firstTest ?? Number.NaN) - (t.ready[0] ?? Number.NaN))} | ${pick((t) => t.firstTest)} | ${pick((t) => t.exit - (t.suiteEnd ?? Number.NaN))} | ${runs.filter((t) => t.code !== 0).length} |`,
    );
  }
  const reuse = [...new Set(timelines.flatMap((t) => t.reuseLine ?? []))];
  if (reuse.length) lines.push('', `(w)'s start lines: ${reuse.map((l) => `\`${l}\``).join('; ')}.`);
  lines.push('', '(c) runs no globalSetup: its worker columns count from spawn, and its containers were started before its spawn.');
  return lines.join('\n');
}
