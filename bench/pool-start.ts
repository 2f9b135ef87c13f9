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
import type { ServeFrom } from '../src/pool/start-policy.js';
import type { ContainerRuntime } from '../src/runtime/container-runtime.js';
import { DockerRuntime } from '../src/runtime/docker/docker-runtime.js';
import { ProcessRuntime } from '../src/runtime/process/process-runtime.js';
import { MemoryPoolStore } from '../src/store/memory-store.js';
import { freePorts } from '../test/support/ports.js';

/**
 * Time from `initialize()` to a pool of 2 containers that passed all three health stages (TCP, MCP,
 * runtime), for each runtime; ROUNDS fresh pools each, stopped between rounds. Each round also starts a pool
 * that opens with its first gated member (`serveFrom: 'first'`, what globalSetup does since issue 13), right
 * after the one that waits for both, so that load falls on both alike.
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

async function startRounds(kind: 'process' | 'docker', makeRuntime: () => ContainerRuntime): Promise<Record<ServeFrom, number[]>> {
  const clock = new SystemClock();
  const samples: Record<ServeFrom, number[]> = { all: [], first: [] };
  for (let i = 0; i < ROUNDS; i++) {
    for (const serveFrom of ['all', 'first'] as const) {
      const ports = await freePorts(2);
      const config = parsePoolOptions({
        poolId: `bench-start-${kind}`,
        containerSpecs: ports.map((port, j) => ({ id: `container-${j + 1}`, name: `bench-${kind}-${process.pid}-${j + 1}`, port })),
      });
      const runtime = makeRuntime();
      const manager = createPoolManager({ config, runtime, store: new MemoryPoolStore(), clock });
      const t0 = performance.now();
      await manager.initialize({ serveFrom });
      samples[serveFrom].push(performance.now() - t0);
      await manager.shutdown();
    }
  }
  return samples;
}

function row(label: string, samples: Record<ServeFrom, number[]>): string {
  return `| ${label} | ${ROUNDS} | ${pct(samples.all, 50)} | ${pct(samples.all, 95)} | ${pct(samples.first, 50)} | ${pct(samples.first, 95)} | ${(pct(samples.first, 50) / pct(samples.all, 50)).toFixed(2)} |`;
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
    rows.push(row('process (local @playwright/mcp)', processSamples));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  const image = await dockerImage();
  if (image) {
    const clock = new SystemClock();
    const dockerSamples = await startRounds('docker', () => new DockerRuntime({ image, clock }));
    rows.push(row(`docker (${image})`, dockerSamples));
  } else {
    rows.push('| docker | – | no daemon | – | – | – | – |');
  }
  return [
    '### Start to 2 healthy containers (all three health stages)',
    '',
    `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, 1-minute load ${os.loadavg()[0]!.toFixed(1)} at the end. Target: ≤ 2.5 s with the image built.`,
    '',
    '| runtime | rounds | both gated p50 ms | p95 ms | first gated (serveFrom first) p50 ms | p95 ms | first ÷ both (p50) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}
