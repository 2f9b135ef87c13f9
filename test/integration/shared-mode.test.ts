import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HostAgent } from '../../src/agent/host-agent.js';
import { parseAgentOptions } from '../../src/agent/agent-options.js';
import { SystemClock, type TimerHandle, type TimerOptions } from '../../src/clock/clock.js';
import { parsePoolOptions } from '../../src/config/pool-config.js';
import { PoolRun } from '../../src/coordinator/pool-run.js';
import { API_PATHS } from '../../src/protocol/api-paths.js';
import type { CoordinatorInfo } from '../../src/protocol/coordinator-api.js';
import { isPoolError } from '../../src/errors/pool-error.js';
import type { Allocation } from '../../src/pool/container-pool-manager.js';
import { SILENT_LOGGER } from '../../src/pool/pool-events.js';
import { credentialHeaders } from '../../src/runtime/member-credentials.js';
import { freePort } from '../support/ports.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';

/*
 * A shard in mode 'shared' (issue 11) against a real host agent in this process: real Redis, the agent's real
 * process-runtime member behind its guard, the shard's coordinator with no containers of its own.
 */

/** The waiting request's budget: long, so that a grant found only at the deadline cannot pass for prompt delivery. */
const WAIT_BUDGET_MS = 60_000;

/**
 * A system clock on which timers of exactly WAIT_BUDGET_MS never fire: a request's deadline timer is one. A grant
 * that reached the waiter through its deadline (cancel → 'granted') would never arrive, so the test would fail.
 */
class NoDeadlineClock extends SystemClock {
  readonly suppressed: number[] = [];
  override setTimeout(callback: () => void, ms: number, options?: TimerOptions): TimerHandle {
    if (ms === WAIT_BUDGET_MS) {
      this.suppressed.push(ms);
      return { id: -1 - this.suppressed.length };
    }
    return super.setTimeout(callback, ms, options);
  }
}

let server: TestRedis;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  server = await startTestRedis();
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

afterAll(async () => {
  await server?.stop();
});

function uniquePoolId(label: string): string {
  return `${label}-${Math.random().toString(16).slice(2, 10)}`;
}

async function startAgent(poolId: string, hostId: string): Promise<{ agent: HostAgent; port: number }> {
  const port = await freePort();
  const options = parseAgentOptions(
    { redisUrl: server.url, hostId, containers: 1, basePort: port, runtime: 'process', advertise: '127.0.0.1', poolId, hostLeaseMs: 10_000 },
    {},
  );
  const agent = new HostAgent(options, { logger: SILENT_LOGGER, env: { ...process.env, CINNAMON_POOL_RUNTIME: 'process' } });
  cleanups.push(() => agent.close());
  await agent.start();
  return { agent, port };
}

async function startShard(poolId: string, lines: string[], clock = new SystemClock()): Promise<PoolRun> {
  const baseDir = await mkdtemp(join(tmpdir(), 'cqa-shard-'));
  cleanups.push(() => rm(baseDir, { recursive: true, force: true }));
  const run = await PoolRun.start({
    pool: parsePoolOptions({ poolId }),
    plugin: { mode: 'shared', runtime: 'auto', redisUrl: server.url, appHost: '10.99.0.7' },
    baseDir,
    log: (line) => lines.push(line),
    logger: SILENT_LOGGER,
    env: {},
    clock,
  });
  cleanups.push(() => run.stop());
  return run;
}

async function mcpInitialize(allocation: Allocation, withCredential: boolean): Promise<string> {
  const client = new Client({ name: 'shared-mode-it', version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL(allocation.container.url), {
    ...(withCredential ? { requestInit: { headers: credentialHeaders(allocation.credential) } } : {}),
  });
  try {
    await client.connect(transport);
    return client.getServerVersion()?.name ?? '(no name)';
  } finally {
    await client.close().catch(() => undefined);
  }
}

describe("mode 'shared': a shard with no containers of its own", () => {
  it('fails with NO_LIVE_HOST when no agent serves the pool, naming what to start', async () => {
    const poolId = uniquePoolId('nohost');
    const error = await startShard(poolId, []).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isPoolError(error, 'NO_LIVE_HOST')).toBe(true);
    expect((error as Error).message).toMatch(new RegExp(`No host agent serves pool '${poolId}' at redis://127\\.0\\.0\\.1:\\d+.*npx cinnamon-pool agent --redis-url`));
  });

  it("allocates the agent's member with a credential its guard admits, and a release on one shard grants another shard's waiter before its deadline", async () => {
    const poolId = uniquePoolId('shared');
    const { port } = await startAgent(poolId, 'h1');
    const lines: string[] = [];
    const shardA = await startShard(poolId, lines);
    expect(lines[0]).toMatch(/^mode: shared \(hosts h1: 1 member at 127\.0\.0\.1\); store: redis \(redisUrl redis:\/\/127\.0\.0\.1:\d+\/?, key prefix 'cinnamon-pool:shared-[0-9a-f]+', Redis time/);
    expect(lines[0]).toMatch(/app host 10\.99\.0\.7 \(appHost\)$/);
    expect(shardA.runtime).toBeUndefined();
    expect(shardA.appHost).toBe('10.99.0.7');
    // Workers are told the members the hosts serve, not the shard's own (unused) container count.
    const info = (await (await fetch(`${shardA.coordinator.url}${API_PATHS.info}`, { headers: { authorization: `Bearer ${shardA.coordinator.token}` } })).json()) as CoordinatorInfo;
    expect(info).toMatchObject({ poolId, containers: 1, runtime: 'process' });

    const held = await shardA.manager.allocateContainerAdvanced({ testRunId: 'a-1' });
    expect(held.container).toMatchObject({ id: 'h1-1', port, url: `http://127.0.0.1:${port}/mcp` });
    // The member's guard admits the lease credential the shard signed with the pool's shared key, and nothing else.
    expect(await mcpInitialize(held, true)).toMatch(/playwright/i);
    await expect(mcpInitialize(held, false)).rejects.toThrow(/no credential: pool member h1-1 answers only the holder of its current lease/);

    const clockB = new NoDeadlineClock();
    const shardB = await startShard(poolId, [], clockB);
    let settled: 'granted' | 'failed' | undefined;
    const waiting = shardB.manager.allocateContainerAdvanced({ testRunId: 'b-1', timeoutMs: WAIT_BUDGET_MS }).then(
      (allocation) => ((settled = 'granted'), allocation),
      (error: unknown) => ((settled = 'failed'), Promise.reject(error)),
    );
    // Queued in Redis behind the held member, with its deadline timer (the one that never fires here).
    await expect.poll(async () => (await shardB.store.listQueue()).map((q) => q.testRunId)).toEqual(['b-1']);
    expect(clockB.suppressed).toEqual([WAIT_BUDGET_MS]);
    expect(settled).toBeUndefined();

    // Shard A releases; the agent cleans the member and its dispatch grants it to shard B's request.
    await shardA.manager.releaseContainer({ leaseId: held.lease.leaseId, token: held.lease.token });
    const next = await waiting;
    expect(settled).toBe('granted');
    expect(next.lease).toMatchObject({ containerId: 'h1-1', testRunId: 'b-1' });
    expect(next.lease.token).toBeGreaterThan(held.lease.token);
    expect(await mcpInitialize(next, true)).toMatch(/playwright/i);
    // The earlier holder's credential no longer opens the member.
    await expect(mcpInitialize(held, true)).rejects.toThrow();
    // A holder's reset in place goes to the member's agent (its control API, with the lease credential).
    const reset = await shardB.manager.resetLeased({ leaseId: next.lease.leaseId, token: next.lease.token }, 'soft');
    expect(reset).toMatchObject({ containerId: 'h1-1', requested: 'soft', success: true });
    expect(await mcpInitialize(next, true)).toMatch(/playwright/i);
    // An idle member's reset is its agent's business.
    await shardB.manager.releaseContainer({ leaseId: next.lease.leaseId, token: next.lease.token });
    await expect(shardB.manager.resetContainer('h1-1', 'soft')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
