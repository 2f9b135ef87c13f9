import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePortRange } from '../test/support/ports.js';
import { machine, round } from './latency.js';

/**
 * Pre-warmed sessions (issue 13): the first MCP tool call of a test, with the spare session (opened and its
 * browser context made while the previous test ran) and without it (CINNAMON_POOL_PREWARM_SESSIONS=0), side by
 * side: one worker on a one-container pool runs BENCH_PREWARM_TESTS tests (default 30), each a short test of five
 * calls (navigate to a small page on this machine, snapshot, evaluate, navigate, snapshot); runs with and without alternate for BENCH_PREWARM_ROUNDS rounds (default 3,
 * order flipped every round so the machine's load falls on both alike). Reported, over every test but each run's
 * first (which has no spare in either mode):
 *   - first call: the test's first `browser_navigate`, measured in the test body;
 *   - gap: the end of the previous test's body to the end of this first call (the fixture's work between tests:
 *     end the session, renew the lease, take the spare or open a session, then the call).
 * BENCH_PREWARM_RUNTIME: 'docker' (default) or 'process'.
 */
const TESTS = Number(process.env.BENCH_PREWARM_TESTS ?? 30);
const ROUNDS = Number(process.env.BENCH_PREWARM_ROUNDS ?? 3);
const RUNTIME = process.env.BENCH_PREWARM_RUNTIME ?? 'docker';
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

type Mode = 'spare' | 'none';

interface TestSample {
  index: number;
  firstCallMs: number;
  /** Undefined for the run's first test. */
  gapMs?: number;
  session?: string;
}

interface RunSample {
  mode: Mode;
  round: number;
  exitCode: number;
  load1: number;
  tests: TestSample[];
}

export async function run(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'prewarm-bench-'));
  const page = await startPage();
  const runs: RunSample[] = [];
  const loadStart = loadavg()[0]!;
  try {
    const config = await writeProject(root, (page.address() as AddressInfo).port);
    for (let r = 1; r <= ROUNDS; r++) {
      const order: Mode[] = r % 2 ? ['spare', 'none'] : ['none', 'spare'];
      for (const mode of order) {
        const sample = await measure(config, root, mode, r);
        runs.push(sample);
        console.error(`[prewarm] round ${r} ${mode}: exit ${sample.exitCode}, ${sample.tests.length}/${TESTS} tests, load ${sample.load1.toFixed(2)}`);
        if (sample.tests.length === 0) throw new Error(`run ${mode} round ${r} recorded no test: see ${join(root, `${mode}-r${r}.log`)}`);
      }
    }
  } finally {
    await new Promise((resolve) => page.close(resolve));
    await rm(root, { recursive: true, force: true });
  }
  return report(runs, loadStart, loadavg()[0]!);
}

/** A small page on 0.0.0.0 (a Docker member reaches it as host.docker.internal). */
async function startPage(): Promise<Server> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><title>bench</title><h1>${req.url}</h1><button>ok</button>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  return server;
}

async function writeProject(root: string, pagePort: number): Promise<string> {
  await writeFile(join(root, 'package.json'), JSON.stringify({ name: 'prewarm-bench-project', private: true, type: 'module' }));
  await symlink(join(repoRoot, 'node_modules'), join(root, 'node_modules'), 'dir');
  const basePort = await freePortRange(2);
  await writeFile(
    join(root, 'prewarm.spec.ts'),
    `import { appendFileSync } from 'node:fs';
import { test } from ${JSON.stringify(join(repoRoot, 'fixtures/index.ts'))};

// The end of the previous test's body in this worker (one worker: every test but the first has one).
let lastBodyEnd: number | undefined;
for (let i = 0; i < ${TESTS}; i++) {
  test('#' + i, async ({ mcpContainer }, testInfo) => {
    const t0 = performance.now();
    await mcpContainer.client.callTool({ name: 'browser_navigate', arguments: { url: mcpContainer.appUrl('http://localhost:${pagePort}/t' + i) } });
    const t1 = performance.now();
    const session = testInfo.annotations.find((a) => a.type === 'pool.session')?.description;
    appendFileSync(process.env.PREWARM_OUT!, JSON.stringify({ index: i, firstCallMs: t1 - t0, gapMs: lastBodyEnd === undefined ? undefined : t1 - lastBodyEnd, session }) + '\\n');
    // The rest of a short test (as the throughput workload's: read, act, read), while the next spare opens.
    await mcpContainer.client.callTool({ name: 'browser_snapshot', arguments: {} });
    await mcpContainer.client.callTool({ name: 'browser_evaluate', arguments: { function: '() => document.title' } });
    await mcpContainer.client.callTool({ name: 'browser_navigate', arguments: { url: mcpContainer.appUrl('http://localhost:${pagePort}/t' + i + '/next') } });
    await mcpContainer.client.callTool({ name: 'browser_snapshot', arguments: {} });
    lastBodyEnd = performance.now();
  });
}
`,
  );
  const config = join(root, 'playwright.config.ts');
  await writeFile(
    config,
    `import { defineConfig } from '@playwright/test';
import { withContainerPool } from ${JSON.stringify(join(repoRoot, 'src/config-entry.ts'))};

export default withContainerPool(defineConfig({ testDir: '.', testMatch: 'prewarm.spec.ts', workers: 1, retries: 0, reporter: 'line', outputDir: 'test-results' }), {
  containers: 1,
  basePort: ${basePort},
  runtime: ${JSON.stringify(RUNTIME)},
  // Its own identity and ports: colleagues' pools on this machine must neither reap nor collide with it.
  poolId: 'bench-prewarm',
  namePrefix: 'bench-prewarm-mcp',
});
`,
  );
  return config;
}

async function measure(config: string, root: string, mode: Mode, r: number): Promise<RunSample> {
  const out = join(root, `${mode}-r${r}.jsonl`);
  await writeFile(out, '');
  const load1 = loadavg()[0]!;
  const env: NodeJS.ProcessEnv = { ...process.env, PREWARM_OUT: out, CI: '', CINNAMON_POOL_PREWARM_SESSIONS: mode === 'spare' ? '1' : '0' };
  const exitCode = await new Promise<number>((resolve, reject) => {
    const log = createWriteStream(join(root, `${mode}-r${r}.log`));
    const child = spawn(process.execPath, [join(repoRoot, 'node_modules/@playwright/test/cli.js'), 'test', '-c', config], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    child.once('error', reject);
    child.once('close', (code) => {
      log.end();
      resolve(code ?? 1);
    });
  });
  const tests = (await readFile(out, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as TestSample);
  if (exitCode !== 0) {
    const log = await readFile(join(root, `${mode}-r${r}.log`), 'utf8').catch(() => '');
    const lines = log.split('\n').filter((l) => /✘|Error|Timeout|failed/.test(l));
    console.error(`[prewarm] ${mode} r${r} exit ${exitCode}:\n  ${lines.slice(0, 12).join('\n  ')}`);
  }
  return { mode, round: r, exitCode, load1, tests };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN;
}

function report(runs: RunSample[], loadStart: number, loadEnd: number): string {
  const later = (mode: Mode) => runs.filter((r) => r.mode === mode).flatMap((r) => r.tests.filter((t) => t.index > 0));
  const row = (mode: Mode, label: string) => {
    const tests = later(mode);
    const first = tests.map((t) => t.firstCallMs);
    const gap = tests.flatMap((t) => (t.gapMs === undefined ? [] : [t.gapMs]));
    const prewarmed = tests.filter((t) => t.session === 'prewarmed').length;
    return {
      line: `| ${label} | ${tests.length} | ${prewarmed} | ${round(median(first))} | ${round(percentile(first, 90))} | ${round(median(gap))} | ${round(percentile(gap, 90))} |`,
      first: median(first),
      gap: median(gap),
    };
  };
  const spare = row('spare', 'with the spare (default)');
  const none = row('none', 'without (`CINNAMON_POOL_PREWARM_SESSIONS=0`)');
  const failed = runs.filter((r) => r.exitCode !== 0).map((r) => `${r.mode} r${r.round} exit ${r.exitCode}`);
  // Each round's two runs ran back to back: their ratio is less at the mercy of the load's drift than the pooled medians.
  const perRound = [...new Set(runs.map((r) => r.round))].flatMap((r) => {
    const med = (mode: Mode, key: 'firstCallMs' | 'gapMs') => median(runs.find((x) => x.round === r && x.mode === mode)?.tests.filter((t) => t.index > 0).map((t) => t[key] ?? Number.NaN) ?? []);
    const first = [med('spare', 'firstCallMs'), med('none', 'firstCallMs')] as const;
    const gap = [med('spare', 'gapMs'), med('none', 'gapMs')] as const;
    return [{ r, first, gap, firstRatio: first[0] / first[1], gapRatio: gap[0] / gap[1] }];
  });
  return [
    `### Pre-warmed sessions: first tool call of a test (issue 13)`,
    '',
    `${machine()}; runtime ${RUNTIME}; one worker, one container, ${TESTS} tests per run (each run's first test left out), ${ROUNDS} rounds of each, alternating; load (1 min) ${loadStart.toFixed(2)} → ${loadEnd.toFixed(2)}; per run: ${runs.map((r) => `${r.mode} r${r.round} ${r.load1.toFixed(1)}`).join(', ')}`,
    '',
    '| mode | tests | prewarmed | first call p50 ms | p90 ms | gap (prev. body end → first call done) p50 ms | p90 ms |',
    '|---|---|---|---|---|---|---|',
    spare.line,
    none.line,
    '',
    `Ratio with ÷ without, pooled medians: first call ${round(spare.first / none.first, 2)}, gap ${round(spare.gap / none.gap, 2)}; ` +
      `per round (with / without ms): ${perRound.map((p) => `r${p.r} first ${round(p.first[0], 0)} / ${round(p.first[1], 0)} (${round(p.firstRatio, 2)}), gap ${round(p.gap[0], 0)} / ${round(p.gap[1], 0)} (${round(p.gapRatio, 2)})`).join('; ')}; ` +
      `median of the per-round ratios: first call ${round(median(perRound.map((p) => p.firstRatio)), 2)}, gap ${round(median(perRound.map((p) => p.gapRatio)), 2)}.` +
      `${failed.length ? ` Runs that did not exit 0 (a test failed or timed out): ${failed.join(', ')}.` : ''}`,
  ].join('\n');
}
