import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { SystemClock } from '../../../src/clock/clock.js';
import { parsePoolOptions, type PoolConfig } from '../../../src/config/pool-config.js';
import type { PoolOptionsInput } from '../../../src/config/schemas.js';
import type { ContainerPoolManager } from '../../../src/pool/container-pool-manager.js';
import { createPoolManager } from '../../../src/pool/create-pool-manager.js';
import type { PoolEventMap } from '../../../src/pool/pool-events.js';
import type { ContainerRuntime } from '../../../src/runtime/container-runtime.js';
import { DockerRuntime } from '../../../src/runtime/docker/docker-runtime.js';
import { ProcessRuntime } from '../../../src/runtime/process/process-runtime.js';
import { MemoryPoolStore } from '../../../src/store/memory-store.js';
import { dockerUnavailableReason } from '../../support/docker.js';
import { freePorts } from '../../support/ports.js';
import { MemberCredentials } from '../../../src/runtime/member-credentials.js';

export { openBrowser, textOf, type Browser } from './mcp-browser.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

/**
 * Docker decides the fault scenarios' fate once per file: skipped with the reason on a developer machine
 * without a daemon, a hard failure in CI (where a silently skipped safety suite would prove nothing).
 */
export async function dockerGate(scenario: string): Promise<{ skip: boolean; reason?: string }> {
  const reason = await dockerUnavailableReason();
  if (reason === undefined) return { skip: false };
  if (process.env.CI) throw new Error(`[faults] ${scenario}: CI is set but Docker cannot be used: ${reason}`);
  console.warn(`[faults] ${scenario}: skipped: ${reason}; in CI it fails instead.`);
  return { skip: true, reason };
}

let imageTag: Promise<string> | undefined;
/** The pool image, built if missing (the script is idempotent: 0.6 s when the tag exists). */
export function poolImage(): Promise<string> {
  imageTag ??= run('bash', ['docker/build-image.sh'], { cwd: repoRoot, maxBuffer: 16 * 2 ** 20 }).then(({ stdout }) => {
    const tag = stdout.trim().split('\n').pop() ?? '';
    if (!tag) throw new Error('docker/build-image.sh printed no image tag');
    return tag;
  });
  return imageTag;
}

/** A real pool on either runtime: createPoolManager + memory store, members on free ports. */
export interface MemberPool {
  /** The pool's own credential for a member (what its health checks and the fence send): admitted whoever holds it. */
  poolCredential(containerId: string): string;
  kind: 'docker' | 'process';
  manager: ContainerPoolManager;
  runtime: ContainerRuntime;
  config: PoolConfig;
  poolId: string;
  /** Shuts the pool down and proves nothing of it is left (Docker: containers, networks). */
  close(): Promise<void>;
}

export interface RealPool extends MemberPool {
  kind: 'docker';
  runtime: DockerRuntime;
  docker: Docker;
  /** Docker container name of a pool container id. */
  nameOf(containerId: string): string;
}

async function startPool<R extends ContainerRuntime>(label: string, options: PoolOptionsInput, containers: number, runtimeFor: (clock: SystemClock) => Promise<R>) {
  const poolId = `faults-${label}-${randomBytes(3).toString('hex')}`;
  const ports = await freePorts(containers);
  const config = parsePoolOptions({
    poolId,
    containerSpecs: ports.map((port, i) => ({ id: `container-${i + 1}`, name: `${poolId}-${i + 1}`, port })),
    ...options,
  });
  const clock = new SystemClock();
  const runtime = await runtimeFor(clock);
  const credentials = new MemberCredentials();
  const manager = createPoolManager({ config, runtime, store: new MemoryPoolStore(), clock, credentials });
  try {
    await manager.initialize();
  } catch (error) {
    await manager.shutdown().catch(() => undefined);
    throw error;
  }
  return { manager, runtime, config, poolId, poolCredential: (id: string) => credentials.forPool(id) };
}

/** A real pool: createPoolManager + DockerRuntime + memory store, `containers` hardened containers on free ports. */
export async function startRealPool(label: string, options: PoolOptionsInput = {}, containers = 2): Promise<RealPool> {
  const image = await poolImage();
  const pool = await startPool(label, options, containers, async (clock) => new DockerRuntime({ image, clock }));
  const docker = new Docker();
  return {
    ...pool,
    kind: 'docker',
    docker,
    nameOf: (id) => pool.config.containerSpecs.find((s) => s.id === id)!.name,
    close: async () => {
      await pool.manager.shutdown();
      const filters = { label: [`cinnamon-qa.pool=${pool.poolId}`] };
      const [left, nets] = await Promise.all([docker.listContainers({ all: true, filters }), docker.listNetworks({ filters })]);
      if (left.length || nets.length) {
        throw new Error(`pool ${pool.poolId} left ${left.length} container(s) and ${nets.length} network(s) behind`);
      }
    },
  };
}

/** The same on the process runtime: local @playwright/mcp servers in a sandbox folder removed at close. */
export async function startProcessPool(label: string, options: PoolOptionsInput = {}, containers = 2): Promise<MemberPool> {
  // Short: Chromium's singleton socket path under the sandbox's TMPDIR is limited (the runtime says so).
  const rootDir = await mkdtemp(join(tmpdir(), 'cqa-f-'));
  try {
    const pool = await startPool(label, options, containers, async (clock) => new ProcessRuntime({ rootDir, clock }));
    return {
      ...pool,
      kind: 'process',
      close: async () => {
        try {
          await pool.manager.shutdown();
        } finally {
          await rm(rootDir, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    await rm(rootDir, { recursive: true, force: true });
    throw error;
  }
}

/** Either runtime by name (the scenarios that must hold on both). */
export function startMemberPool(kind: 'docker' | 'process', label: string, options: PoolOptionsInput = {}, containers = 2): Promise<MemberPool> {
  return kind === 'docker' ? startRealPool(label, options, containers) : startProcessPool(label, options, containers);
}

export function nextEvent<K extends keyof PoolEventMap>(
  manager: ContainerPoolManager,
  name: K,
  timeoutMs: number,
  filter: (payload: PoolEventMap[K]) => boolean = () => true,
): Promise<PoolEventMap[K]> {
  return new Promise((resolve, reject) => {
    const listener = (payload: PoolEventMap[K]) => {
      if (!filter(payload)) return;
      clearTimeout(timer);
      manager.off(name, listener);
      resolve(payload);
    };
    const timer = setTimeout(() => {
      manager.off(name, listener);
      reject(new Error(`no ${name} within ${timeoutMs} ms`));
    }, timeoutMs);
    manager.on(name, listener);
  });
}

/** Polls a condition (state, not time, is asserted: the budget only stops a hung scenario). */
export async function until(what: string, condition: () => Promise<boolean>, budgetMs: number, pollMs = 100): Promise<void> {
  const deadline = performance.now() + budgetMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${budgetMs} ms`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export async function allAvailable(manager: ContainerPoolManager): Promise<boolean> {
  return (await manager.getPoolStatus()).containers.every((c) => c.state === 'Available');
}

/** Runs a shell script inside a pool container as its user (the exec contract: MCP_* variables, cwd MCP_WORKDIR). */
export async function sh(pool: Pick<MemberPool, 'runtime'>, containerId: string, script: string, timeoutMs = 15_000) {
  return pool.runtime.exec(containerId, ['sh', '-c', script], { timeoutMs });
}

/** The one line per scenario the BENCHMARKS.md reliability table is filled from. */
export function resultLine(scenario: string, runs: number, passed: number, figure: string): void {
  console.info(`[faults] ${scenario}: runs=${runs} passed=${passed} ${figure}`);
}

/**
 * Keeps a lease alive the way the fixture does (renew at a third of the TTL) while a scenario holds it across slow
 * steps; stop() before releasing.
 */
export function heartbeat(manager: ContainerPoolManager, lease: { leaseId: string; token: number }): { stop(): void } {
  const timer = setInterval(() => void manager.renewLease(lease).catch(() => undefined), manager.config.lease.ttlMs / 3);
  return { stop: () => clearInterval(timer) };
}
