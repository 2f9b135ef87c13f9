import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SystemClock } from '../../src/clock/clock.js';
import { parsePoolOptions } from '../../src/config/pool-config.js';
import type { PoolOptionsInput } from '../../src/config/schemas.js';
import type { ContainerPoolManager } from '../../src/pool/container-pool-manager.js';
import { createPoolManager } from '../../src/pool/create-pool-manager.js';
import type { PoolEventMap } from '../../src/pool/pool-events.js';
import type { ContainerRuntime } from '../../src/runtime/container-runtime.js';
import { DockerRuntime } from '../../src/runtime/docker/docker-runtime.js';
import { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { MemoryPoolStore } from '../../src/store/memory-store.js';
import { INITIALIZE, mcpRequest } from '../contract/container-runtime.contract.js';
import { dockerUnavailableReason } from '../support/docker.js';
import { freePorts } from '../support/ports.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const dockerUnavailable = await dockerUnavailableReason();
const skipDocker = dockerUnavailable !== undefined && !process.env.CI;
if (skipDocker) console.warn(`[pool-real.test] Docker part skipped: ${dockerUnavailable}; in CI it fails instead.`);

interface Kind {
  name: 'process' | 'docker';
  skip: boolean;
  makeRuntime(): Promise<ContainerRuntime>;
  /** Kills a pool member the way an outside event would: `docker kill`, or SIGKILL to the MCP server. */
  kill(runtime: ContainerRuntime, containerId: string, name: string): Promise<void>;
}

let processRoot = '';
let image = '';
const clock = new SystemClock();

const KINDS: Kind[] = [
  {
    name: 'process',
    skip: false,
    makeRuntime: async () => new ProcessRuntime({ rootDir: processRoot, clock }),
    kill: async (runtime, containerId) => {
      const { stdout } = await runtime.exec(containerId, ['sh', '-c', 'echo $MCP_SERVER_PID']);
      process.kill(Number(stdout.trim()), 'SIGKILL');
    },
  },
  {
    name: 'docker',
    skip: skipDocker,
    makeRuntime: async () => new DockerRuntime({ image, clock }),
    kill: async (_runtime, _containerId, name) => {
      await new Docker().getContainer(name).kill();
    },
  },
];

beforeAll(async () => {
  processRoot = await mkdtemp(join(tmpdir(), 'cqa-pr-'));
  if (!skipDocker) {
    if (dockerUnavailable) throw new Error(`CI is set but Docker cannot be used: ${dockerUnavailable}`);
    const { stdout } = await run('bash', ['docker/build-image.sh'], { cwd: repoRoot, maxBuffer: 16 * 2 ** 20 });
    image = stdout.trim().split('\n').pop() ?? '';
  }
});

afterAll(async () => {
  await rm(processRoot, { recursive: true, force: true });
});

async function startPool(kind: Kind, options: PoolOptionsInput = {}) {
  const poolId = `itpool-${kind.name}-${randomBytes(3).toString('hex')}`;
  const ports = await freePorts(2);
  const config = parsePoolOptions({
    poolId,
    containerSpecs: ports.map((port, i) => ({ id: `container-${i + 1}`, name: `${poolId}-${i + 1}`, port })),
    ...options,
  });
  const runtime = await kind.makeRuntime();
  const manager = createPoolManager({ config, runtime, store: new MemoryPoolStore(), clock });
  await manager.initialize();
  return { manager, runtime, config, poolId };
}

/** Opens an MCP session with `credential` (raw initialize) and ends it again; the initialize's HTTP status. */
async function openAndEnd(port: number, credential: string): Promise<number> {
  const authorization = `Bearer ${credential}`;
  const opened = await mcpRequest(port, { authorization, body: INITIALIZE });
  if (opened.sessionId !== undefined) await mcpRequest(port, { authorization, method: 'DELETE', sessionId: opened.sessionId });
  return opened.status;
}

function nextEvent<K extends keyof PoolEventMap>(manager: ContainerPoolManager, name: K, timeoutMs: number): Promise<PoolEventMap[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${name} within ${timeoutMs} ms`)), timeoutMs);
    manager.once(name, (payload: PoolEventMap[K]) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });
}

async function until(what: string, condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const kind of KINDS) {
  describe.skipIf(kind.skip)(`pool with real ${kind.name} containers`, () => {
    it('a leased container that is killed: unhealthy at once (event-driven), its holder is told, the pool heals itself, and the guard refuses the old holder', async () => {
      const { manager, runtime, config, poolId } = await startPool(kind);
      try {
        const held = await manager.allocateContainerAdvanced({ testRunId: 'victim', priority: 'high' });
        const spec = config.containerSpecs.find((s) => s.id === held.lease.containerId)!;
        // The holder's credential opens an MCP session on its member: the pool fenced the guard before the grant.
        expect(await openAndEnd(spec.port, held.credential)).toBe(200);
        const unhealthy = nextEvent(manager, 'containerUnhealthy', 10_000);
        const revoked = nextEvent(manager, 'leaseRevoked', 10_000);
        const killedAt = performance.now();
        await kind.kill(runtime, spec.id, spec.name);
        const event = await unhealthy;
        const detectedMs = performance.now() - killedAt;
        expect(event.containerId).toBe(spec.id);
        // Event-driven (Docker events stream / child exit), not polled: the issue asks for a second, met on a quiet
        // machine (figure printed below). Asserted with room for 2 busy cores: dockerd, the runtime and this
        // process all have to be scheduled, and 5 s is still far under the 30 s health poll that would otherwise
        // find the death.
        expect(detectedMs).toBeLessThan(5_000);
        console.log(`[timing] ${kind.name}: kill → unhealthy ${Math.round(detectedMs)} ms`);
        const lost = await revoked;
        expect(lost.lease.leaseId).toBe(held.lease.leaseId);
        expect(lost.reason).toContain(spec.name);
        await expect(manager.releaseContainer({ leaseId: held.lease.leaseId, token: held.lease.token })).rejects.toMatchObject({ code: 'LEASE_REVOKED' });
        await until('both containers Available again', async () => (await manager.getPoolStatus()).containers.every((c) => c.state === 'Available'), 60_000);
        const again = await manager.allocateContainerAdvanced({ testRunId: 'next', priority: 'high' });
        expect(again.lease.token).toBeGreaterThan(held.lease.token);
        // At the container, not only at the pool: the restarted member's guard was fenced past the revoked lease.
        const old = await mcpRequest(spec.port, { authorization: `Bearer ${held.credential}`, body: INITIALIZE });
        expect(old.status).toBe(401);
        expect(old.text).toMatch(new RegExp(`lease ${held.lease.leaseId} \\(token ${held.lease.token}\\) on pool member ${spec.id} has ended`));
        const nextPort = config.containerSpecs.find((s) => s.id === again.lease.containerId)!.port;
        expect(await openAndEnd(nextPort, again.credential)).toBe(200);
        await (await manager.releaseContainer({ leaseId: again.lease.leaseId, token: again.lease.token })).recycled;
        console.info(`[pool-real] ${kind.name}: death of ${spec.name} known after ${Math.round(detectedMs)} ms (${poolId})`);
      } finally {
        await manager.shutdown();
      }
      if (kind.name === 'docker') {
        const left = await new Docker().listContainers({ all: true, filters: { label: [`cinnamon-qa.pool=${poolId}`] } });
        expect(left).toEqual([]);
      }
    });

    it.skipIf(kind.name !== 'docker')('a low memory threshold fires memoryThresholdExceeded from real docker stats', async () => {
      const { manager } = await startPool(kind, { health: { healthCheckIntervalMs: 500, memoryThresholdMB: 1 } });
      try {
        const event = await nextEvent(manager, 'memoryThresholdExceeded', 20_000);
        expect(event.threshold).toBe(1);
        // A real reading: an idle MCP server with Node alone uses tens of MB.
        expect(event.memoryUsage).toBeGreaterThan(10);
        expect(event.memoryUsage).toBeLessThan(512);
      } finally {
        await manager.shutdown();
      }
    });
  });
}
