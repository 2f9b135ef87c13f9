import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import Docker from 'dockerode';
import { openMcpSession, type McpSession } from '../../../fixtures/mcp-session.js';
import { SystemClock } from '../../../src/clock/clock.js';
import { parsePoolOptions, type PoolConfig } from '../../../src/config/pool-config.js';
import type { PoolOptionsInput } from '../../../src/config/schemas.js';
import type { ContainerPoolManager } from '../../../src/pool/container-pool-manager.js';
import { createPoolManager } from '../../../src/pool/create-pool-manager.js';
import type { PoolEventMap } from '../../../src/pool/pool-events.js';
import { DockerRuntime } from '../../../src/runtime/docker/docker-runtime.js';
import { MemoryPoolStore } from '../../../src/store/memory-store.js';
import { dockerUnavailableReason } from '../../support/docker.js';
import { freePorts } from '../../support/ports.js';

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

export interface RealPool {
  manager: ContainerPoolManager;
  runtime: DockerRuntime;
  config: PoolConfig;
  poolId: string;
  docker: Docker;
  /** Docker container name of a pool container id. */
  nameOf(containerId: string): string;
  /** Shuts the pool down and proves nothing of it is left in Docker (containers, networks). */
  close(): Promise<void>;
}

/** A real pool: createPoolManager + DockerRuntime + memory store, `containers` hardened containers on free ports. */
export async function startRealPool(label: string, options: PoolOptionsInput = {}, containers = 2): Promise<RealPool> {
  const poolId = `faults-${label}-${randomBytes(3).toString('hex')}`;
  const ports = await freePorts(containers);
  const config = parsePoolOptions({
    poolId,
    containerSpecs: ports.map((port, i) => ({ id: `container-${i + 1}`, name: `${poolId}-${i + 1}`, port })),
    ...options,
  });
  const clock = new SystemClock();
  const runtime = new DockerRuntime({ image: await poolImage(), clock });
  const manager = createPoolManager({ config, runtime, store: new MemoryPoolStore(), clock });
  const docker = new Docker();
  try {
    await manager.initialize();
  } catch (error) {
    await manager.shutdown().catch(() => undefined);
    throw error;
  }
  return {
    manager,
    runtime,
    config,
    poolId,
    docker,
    nameOf: (id) => config.containerSpecs.find((s) => s.id === id)!.name,
    close: async () => {
      await manager.shutdown();
      const filters = { label: [`cinnamon-qa.pool=${poolId}`] };
      const [left, nets] = await Promise.all([docker.listContainers({ all: true, filters }), docker.listNetworks({ filters })]);
      if (left.length || nets.length) {
        throw new Error(`pool ${poolId} left ${left.length} container(s) and ${nets.length} network(s) behind`);
      }
    },
  };
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

export function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((c) => c.text ?? '').join('\n');
}

/** The browser tools a scenario drives, with argument names read from the server's own inputSchemas. */
export interface Browser {
  readonly client: Client;
  readonly session: McpSession;
  readonly toolNames: readonly string[];
  /** browser_navigate; resolves to the tool's result (isError included), never throws on a tool error. */
  navigate(url: string, timeoutMs?: number): Promise<{ isError: boolean; text: string }>;
  /** browser_evaluate of a function source in the page. */
  evaluate(fn: string, timeoutMs?: number): Promise<{ isError: boolean; text: string }>;
  /** Any tool by name, arguments as given. */
  call(name: string, args: Record<string, unknown>, timeoutMs?: number): Promise<{ isError: boolean; text: string }>;
  close(): Promise<void>;
}

export async function openBrowser(url: string, clientName: string): Promise<Browser> {
  const session = await openMcpSession(url, () => undefined, clientName);
  const client = session.client;
  try {
    const { tools } = await client.listTools();
    const argOf = (tool: string, pattern: RegExp) => {
      const t = tools.find((x) => x.name === tool);
      if (!t) throw new Error(`the server lists no ${tool}: ${tools.map((x) => x.name).join(', ')}`);
      const key = Object.keys(t.inputSchema.properties ?? {}).find((k) => pattern.test(k));
      if (!key) throw new Error(`${tool} has no argument matching ${pattern}: ${JSON.stringify(t.inputSchema.properties)}`);
      return key;
    };
    const urlArg = argOf('browser_navigate', /url/i);
    const fnArg = argOf('browser_evaluate', /function|expression|script/i);
    const call = async (name: string, args: Record<string, unknown>, timeoutMs = 30_000) => {
      const result = await client.callTool({ name, arguments: args }, undefined, { timeout: timeoutMs });
      return { isError: result.isError === true, text: textOf(result) };
    };
    return {
      client,
      session,
      toolNames: tools.map((t) => t.name),
      navigate: (u, t) => call('browser_navigate', { [urlArg]: u }, t),
      evaluate: (fn, t) => call('browser_evaluate', { [fnArg]: fn }, t),
      call,
      close: () => session.close(),
    };
  } catch (error) {
    await session.close();
    throw error;
  }
}

/** Runs a shell script inside a pool container as its user (the exec contract: MCP_* variables, cwd MCP_WORKDIR). */
export async function sh(pool: RealPool, containerId: string, script: string, timeoutMs = 15_000) {
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
