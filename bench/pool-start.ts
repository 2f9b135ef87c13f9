import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { SystemClock } from '../src/clock/clock.js';
import { parsePoolOptions } from '../src/config/pool-config.js';
import { createPoolManager } from '../src/pool/create-pool-manager.js';
import type { ContainerRuntime } from '../src/runtime/container-runtime.js';
import { DockerRuntime } from '../src/runtime/docker/docker-runtime.js';
import { ProcessRuntime } from '../src/runtime/process/process-runtime.js';
import { MemoryPoolStore } from '../src/store/memory-store.js';
import { freePorts } from '../test/support/ports.js';

/**
 * Time from `initialize()` to a pool of 2 containers that passed all three health stages (TCP, MCP,
 * runtime), for each runtime; ROUNDS fresh pools each, stopped between rounds.
 */
const ROUNDS = Number(process.env.BENCH_START_ROUNDS ?? 20);
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

async function dockerImage(): Promise<string | undefined> {
  try {
    await new Docker().ping();
  } catch {
    return undefined;
  }
  const { stdout } = await promisify(execFile)('bash', ['docker/build-image.sh'], { cwd: repoRoot, maxBuffer: 16 * 2 ** 20 });
  return stdout.trim().split('\n').pop();
}

async function startRounds(kind: 'process' | 'docker', makeRuntime: () => ContainerRuntime): Promise<number[]> {
  const clock = new SystemClock();
  const samples: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const ports = await freePorts(2);
    const config = parsePoolOptions({
      poolId: `bench-start-${kind}`,
      containerSpecs: ports.map((port, j) => ({ id: `container-${j + 1}`, name: `bench-${kind}-${process.pid}-${j + 1}`, port })),
    });
    const runtime = makeRuntime();
    const manager = createPoolManager({ config, runtime, store: new MemoryPoolStore(), clock });
    const t0 = performance.now();
    await manager.initialize();
    samples.push(performance.now() - t0);
    await manager.shutdown();
  }
  return samples;
}

function pct(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!);
}

export async function run(): Promise<string> {
  const rows: string[] = [];
  const root = await mkdtemp(join(os.tmpdir(), 'cqa-bs-'));
  try {
    const processSamples = await startRounds('process', () => new ProcessRuntime({ rootDir: root }));
    rows.push(`| process (local @playwright/mcp) | ${ROUNDS} | ${pct(processSamples, 50)} | ${pct(processSamples, 95)} |`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  const image = await dockerImage();
  if (image) {
    const clock = new SystemClock();
    const dockerSamples = await startRounds('docker', () => new DockerRuntime({ image, clock }));
    rows.push(`| docker (${image}) | ${ROUNDS} | ${pct(dockerSamples, 50)} | ${pct(dockerSamples, 95)} |`);
  } else {
    rows.push('| docker | – | no daemon | – |');
  }
  return [
    '### Start to 2 healthy containers (all three health stages)',
    '',
    `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}. Target: ≤ 2.5 s with the image built.`,
    '',
    '| runtime | rounds | p50 ms | p95 ms |',
    '|---|---:|---:|---:|',
    ...rows,
  ].join('\n');
}
