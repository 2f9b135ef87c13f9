import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { openMcpSession } from '../fixtures/mcp-session.js';
import { CleanupService } from '../src/cleanup/cleanup-service.js';
import { CLEANUP_STAGES, type CleanupStage } from '../src/cleanup/cleanup-types.js';
import { ContainerResetManager } from '../src/cleanup/container-reset-manager.js';
import { SystemClock } from '../src/clock/clock.js';
import { HealthChecker } from '../src/health/health-checker.js';
import type { ContainerRuntime } from '../src/runtime/container-runtime.js';
import { DockerRuntime } from '../src/runtime/docker/docker-runtime.js';
import { MemberCredentials } from '../src/runtime/member-credentials.js';
import { fenceMember } from '../src/runtime/member-fence.js';
import { ProcessRuntime } from '../src/runtime/process/process-runtime.js';
import { freePort } from '../test/support/ports.js';
import { machine } from './latency.js';

/**
 * Cleanup and reset latency on real MCP servers: soft reset, six-stage cleanup and hard reset, each measured
 * over ROUNDS rounds (after WARMUP unmeasured ones) with a real browser navigation before every round, so
 * there is a browser to end and files to remove. Runs on the process runtime, and on Docker when a daemon
 * answers (the image is built first if needed: `bash docker/build-image.sh`).
 *
 * The MCP client is the fixture's own (fixtures/mcp-session.ts): it ends its session (DELETE) and destroys its
 * sockets before it lets go, as a test's worker does before it releases its lease. It sends the pool's
 * credential: no pool fences the member for a lease here.
 *
 * The `exec floor` row is `runtime.exec(id, ['true'])`, timed in the same rounds as the soft reset (one after
 * each): what one exec costs before its script does anything. The soft reset itself runs no exec since issue 13
 * (one call to the member's guard, which ends the sessions and keeps the browser); the row is the comparison.
 * Soft rounds alternate: a plain one (the guard's keeper already holds the browser) and the first after a new
 * lease (the guard attaches its keeper first), each its own row.
 * `BENCH_CLEANUP_RUNTIMES=docker` (or `process`) measures one runtime only; the default is both.
 * `BENCH_CLEANUP_OPERATIONS=soft` (or any of soft, cleanup, hard, comma-separated) measures those only.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const WARMUP = 2;
const TARGETS_MS = { soft: 150, 'soft-first': Number.NaN, cleanup: 1_000, hard: 3_000, exec: Number.NaN } as const;
type Operation = keyof typeof TARGETS_MS;
const RUNTIMES = (process.env.BENCH_CLEANUP_RUNTIMES ?? 'process,docker').split(',').map((r) => r.trim());
/** `BENCH_CLEANUP_OPERATIONS=soft` measures the soft reset (and the exec floor) only; the default is all three. */
const OPERATIONS = (process.env.BENCH_CLEANUP_OPERATIONS ?? 'soft,cleanup,hard').split(',').map((r) => r.trim());

const execFileAsync = promisify(execFile);
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

interface Series {
  runtime: string;
  operation: Operation;
  samples: number[];
  failures: string[];
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function startSite(listenHost: string): Promise<{ server: Server; port: number }> {
  const server = createHttpServer((req, res) => {
    res.setHeader('content-type', 'text/html');
    res.setHeader('set-cookie', `bench=${randomBytes(4).toString('hex')}; Path=/`);
    res.end(`<!doctype html><title>bench</title><script>localStorage.setItem('bench', '${req.url}')</script><h1>bench page</h1><p>${'text '.repeat(200)}</p>`);
  });
  await new Promise<void>((resolve) => server.listen(0, listenHost, resolve));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0 };
}

/** A session as the pool's fixture opens one (fixtures/mcp-session.ts): DELETE on close, sockets destroyed. */
async function connect(port: number, credential: string): Promise<{ navigate(url: string): Promise<void>; close(): Promise<void> }> {
  const session = await openMcpSession(`http://localhost:${port}/mcp`, credential, () => undefined, 'cleanup-reset-bench');
  return {
    async navigate(url: string) {
      const result = await session.client.callTool({ name: 'browser_navigate', arguments: { url } }, undefined, { timeout: 60_000 });
      if (result.isError) throw new Error(`browser_navigate failed: ${JSON.stringify(result.content).slice(0, 300)}`);
    },
    close: () => session.close(),
  };
}

async function timed(fn: () => Promise<boolean | string>): Promise<{ ms: number; failure?: string }> {
  const started = performance.now();
  const outcome = await fn();
  const ms = performance.now() - started;
  return outcome === true ? { ms } : { ms, failure: outcome === false ? 'failed' : outcome };
}

interface RuntimeUnderTest {
  name: string;
  runtime: ContainerRuntime;
  siteHost: string;
  listenHost: string;
  close(): Promise<void>;
}

async function dockerAvailable(): Promise<string | undefined> {
  try {
    await Promise.race([new Docker().ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 2 s')), 2_000).unref())]);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

async function benchRuntime(target: RuntimeUnderTest, stageSamples: Map<string, number[]>): Promise<Series[]> {
  const port = await freePort();
  const spec = { id: 'bench-1', name: `cq-bench-${randomBytes(3).toString('hex')}`, port, memoryMB: 768, cpuPercent: 100 };
  const site = await startSite(target.listenHost);
  const url = (path: string) => `http://${target.siteHost}:${site.port}${path}`;
  const credentials = new MemberCredentials();
  const credential = credentials.forPool(spec.id);
  const health = new HealthChecker({ runtime: target.runtime, config: { startupTimeoutMs: 30_000 }, credentialFor: (id) => credentials.forPool(id) });
  const cleaner = new CleanupService({ runtime: target.runtime });
  const resetter = new ContainerResetManager({ runtime: target.runtime, health, portOf: () => port, credentialFor: (id) => credentials.forPool(id) });
  const series = (operation: Operation): Series => ({ runtime: target.name, operation, samples: [], failures: [] });
  const soft = series('soft');
  const softFirst = series('soft-first');
  const cleanup = series('cleanup');
  const hard = series('hard');
  const floor = series('exec');
  try {
    await target.runtime.start(spec, { poolId: 'cq-bench', runId: randomBytes(3).toString('hex'), guardKey: (id) => credentials.keyOf(id) });
    // `starting`: the whole budget for the first MCP answer, as the pool gives a member it has just started.
    const gate = await health.isContainerReady(port, spec.id, { timeoutMs: 60_000, starting: true });
    if (!gate.ready) throw new Error(`${target.name}: the server did not pass its health gate: ${JSON.stringify(gate.stages)}`);

    // Soft reset between two tests of one holder: the test's session browses, the reset ends it (the browser stays
    // up, held by the guard's keeper); each round opens a session of its own, as each test does.
    // Odd rounds: the first soft reset after a new lease, which also attaches the guard's keeper (one tool call,
    // a browser context) before it ends the sessions. A fence with a higher floor is what a new lease looks like to
    // the guard (the holder here sends the pool's credential, which no floor cuts).
    let leaseFloor = 0;
    for (let i = 0; OPERATIONS.includes('soft') && i < 2 * (WARMUP + ROUNDS); i++) {
      const first = i % 2 === 1;
      if (first) await fenceMember({ containerId: spec.id, port, credential }, ++leaseFloor);
      const holder = await connect(port, credential);
      await holder.navigate(url(`/soft/${i}`));
      const { ms, failure } = await timed(async () => {
        const r = await resetter.reset(spec.id, 'soft');
        return r.success && r.applied === 'soft' ? true : `applied ${r.applied ?? 'nothing'}: ${r.attempts[0]?.error ?? ''}`;
      });
      const execStarted = performance.now();
      const exec = await target.runtime.exec(spec.id, ['true']).then((r) => (r.exitCode === 0 ? undefined : `exit code ${r.exitCode}`), (e: unknown) => String(e));
      const execMs = performance.now() - execStarted;
      // The session is over already (the server answers its DELETE 404): this only lets the client go.
      await holder.close();
      if (i < 2 * WARMUP) continue;
      (first ? softFirst : soft).samples.push(ms);
      if (failure) (first ? softFirst : soft).failures.push(failure);
      floor.samples.push(execMs);
      if (exec) floor.failures.push(exec);
    }

    // Cleanup between two holders: the first one browses and lets go, then the six stages run.
    for (let i = 0; OPERATIONS.includes('cleanup') && i < WARMUP + ROUNDS; i++) {
      const client = await connect(port, credential);
      await client.navigate(url(`/cleanup/${i}`));
      await client.close();
      let stages: Array<{ stage: CleanupStage; durationMs: number }> = [];
      const { ms, failure } = await timed(async () => {
        const r = await cleaner.cleanup(spec.id, 'full');
        stages = r.stages;
        return r.success ? true : r.stages.filter((s) => !s.success).map((s) => s.error).join('; ');
      });
      if (i < WARMUP) continue;
      cleanup.samples.push(ms);
      if (failure) cleanup.failures.push(failure);
      for (const s of stages) {
        const key = `${target.name}\u0000${s.stage}`;
        stageSamples.set(key, [...(stageSamples.get(key) ?? []), s.durationMs]);
      }
    }

    // Hard reset: restart, then the health gate proves the server answers MCP again.
    for (let i = 0; OPERATIONS.includes('hard') && i < WARMUP + ROUNDS; i++) {
      const client = await connect(port, credential);
      await client.navigate(url(`/hard/${i}`));
      await client.close();
      const { ms, failure } = await timed(async () => {
        const r = await resetter.reset(spec.id, 'hard');
        return r.success && r.applied === 'hard' ? true : `applied ${r.applied ?? 'nothing'}: ${r.attempts[0]?.error ?? ''}`;
      });
      if (i < WARMUP) continue;
      hard.samples.push(ms);
      if (failure) hard.failures.push(failure);
    }
  } finally {
    await target.runtime.stop(spec.id).catch(() => undefined);
    site.server.close();
  }
  return [floor, soft, softFirst, cleanup, hard].filter((s) => s.samples.length > 0);
}

export async function run(): Promise<string> {
  const targets: Array<() => Promise<RuntimeUnderTest>> = [];
  const notes: string[] = [];
  if (RUNTIMES.includes('process')) {
    targets.push(async () => {
      const rootDir = await mkdtemp(join(tmpdir(), 'cq-bench-'));
      const runtime = new ProcessRuntime({ rootDir });
      return {
        name: 'process',
        runtime,
        siteHost: '127.0.0.1',
        listenHost: '127.0.0.1',
        async close() {
          await runtime.close();
          await rm(rootDir, { recursive: true, force: true });
        },
      };
    });
  }
  const dockerProblem = RUNTIMES.includes('docker') ? await dockerAvailable() : undefined;
  if (!RUNTIMES.includes('docker')) {
    notes.push('Docker runtime not measured: BENCH_CLEANUP_RUNTIMES leaves it out.');
  } else if (dockerProblem) {
    notes.push(`Docker runtime not measured: no Docker daemon answers (${dockerProblem}).`);
  } else {
    targets.push(async () => {
      const { stdout } = await execFileAsync('bash', ['docker/build-image.sh'], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 });
      const image = stdout.trim().split('\n').pop() ?? '';
      const runtime = new DockerRuntime({ image, clock: new SystemClock() });
      // The container reaches the host through the bridge gateway, not through loopback.
      return { name: 'docker', runtime, siteHost: 'host.docker.internal', listenHost: '0.0.0.0', close: () => runtime.close() };
    });
  }

  const all: Series[] = [];
  const stageSamples = new Map<string, number[]>();
  const load = [loadavg()[0]!];
  for (const make of targets) {
    const target = await make();
    try {
      all.push(...(await benchRuntime(target, stageSamples)));
    } finally {
      await target.close().catch(() => undefined);
    }
    load.push(loadavg()[0]!);
  }

  const fmt = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(0));
  const lines = [
    `### Cleanup and reset latency (${ROUNDS} rounds each after ${WARMUP} warm-up, a real navigation before every round)`,
    '',
    `Machine: ${machine()}; 1-minute load average ${load.map((l) => l.toFixed(1)).join(' → ')} during the run.`,
    '',
    '| runtime | operation | n | p50 ms | p95 ms | max ms | target p95 | met | failures |',
    '|---|---|---:|---:|---:|---:|---:|:-:|---:|',
  ];
  for (const s of all) {
    const sorted = [...s.samples].sort((a, b) => a - b);
    const p95 = percentile(sorted, 95);
    const target = TARGETS_MS[s.operation];
    const name =
      s.operation === 'cleanup' ? 'cleanup (6 stages)' : s.operation === 'exec' ? 'exec floor (`true`)' : s.operation === 'soft-first' ? 'soft reset, first of a lease (+ keeper attach)' : `${s.operation} reset`;
    const goal = Number.isNaN(target) ? '– | –' : `≤ ${target} | ${p95 <= target ? 'yes' : 'no'}`;
    lines.push(`| ${s.runtime} | ${name} | ${sorted.length} | ${fmt(percentile(sorted, 50))} | ${fmt(p95)} | ${fmt(sorted.at(-1) ?? Number.NaN)} | ${goal} | ${s.failures.length} |`);
  }
  const runtimes = [...new Set(all.map((s) => s.runtime))];
  if (stageSamples.size > 0) lines.push('', 'Cleanup stages, p50 / p95 ms:', '', `| stage | ${runtimes.join(' | ')} |`, `|---|${runtimes.map(() => '---:').join('|')}|`);
  for (const stage of stageSamples.size > 0 ? CLEANUP_STAGES : []) {
    const cells = runtimes.map((r) => {
      const sorted = [...(stageSamples.get(`${r}\u0000${stage}`) ?? [])].sort((a, b) => a - b);
      return `${fmt(percentile(sorted, 50))} / ${fmt(percentile(sorted, 95))}`;
    });
    lines.push(`| ${stage} | ${cells.join(' | ')} |`);
  }
  const failures = all.flatMap((s) => s.failures.slice(0, 2).map((f) => `- ${s.runtime} ${s.operation}: ${f}`));
  if (failures.length) lines.push('', 'First failures:', ...failures);
  if (notes.length) lines.push('', ...notes);
  return lines.join('\n');
}
