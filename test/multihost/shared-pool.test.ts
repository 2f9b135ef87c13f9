import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SystemAnalytics } from '../../src/pool/analytics-types.js';
import { containerRecordSchema } from '../../src/store/record-schemas.js';
import { REPO_ROOT, startAgent, startShard } from './support/host-agent.js';
import { checkPriorityOrder, overlappingLeases, readLeaseHistory } from './support/lease-history.js';
import { runCommand } from './support/run-command.js';
import { cleanupStale, createTestNetwork, type NetnsChild, type TestNetwork } from './support/netns.js';
import { multihostUnavailable } from './support/preconditions.js';
import { startRedisOnBridge, type BridgeRedis } from './support/redis-on-bridge.js';
import { SHARD_OUTPUT_DIR_ENV } from './support/shard-env.js';

/**
 * The multi-host tier (issue 11): two host agents (h1, h2; 2 process-runtime members each) and two
 * `playwright test --shard=i/2` runs of the example suite (s1, s2) in four network namespaces, all on one Redis in
 * the root namespace and one run group. Both shards pass on members of both hosts, no member is ever leased twice
 * at once, every grant followed priority order over the merged queue of both shards, the merged report counts each
 * lease once, and the agents drain on SIGTERM, leave the pool empty and leave no process behind.
 */
const unavailable = multihostUnavailable();
if (unavailable) console.warn(`multihost tier skipped: ${unavailable}`);

const SHARD_CONFIG = fileURLToPath(new URL('./support/shard.config.ts', import.meta.url));
const HOSTS = ['h1', 'h2'] as const;
const SHARDS = ['s1', 's2'] as const;
/** Drain: holders are gone by then, so it is stopping two members; generous for a loaded 2-core machine. */
const DRAIN_BUDGET_MS = 120_000;
/** Processes of an exited agent vanish from the namespace's list once reaped; a budget, not a measurement. */
const NAMESPACE_EMPTY_BUDGET_MS = 20_000;

describe.skipIf(!!unavailable)(unavailable ? `shared pool across hosts (skipped: ${unavailable})` : 'one pool shared by two shards across two hosts', () => {
  let network: TestNetwork;
  let redis: BridgeRedis;

  beforeAll(async () => {
    await cleanupStale();
    network = await createTestNetwork({ name: 'shared-pool', hosts: [...HOSTS, ...SHARDS] });
    redis = await startRedisOnBridge(network);
  });

  afterAll(async () => {
    await network?.dispose();
    await redis?.dispose();
  });

  it('runs both shards of the example suite on both hosts with no container leased twice, then drains the agents', async () => {
    const poolId = `mh-${network.names.id}-${process.pid}`;
    const prefix = `cinnamon-pool:${poolId}`;
    // One build's shards share a run group (in CI, the build id); the merged report names it.
    const runGroup = `multihost-${network.names.id}`;
    const client = redis.connect();
    try {
      // ---- two host agents, two members each ----
      const agents = new Map<string, NetnsChild>();
      for (const host of HOSTS) {
        const { agent, readyLine } = await startAgent(network, host, { redisUrl: redis.url, poolId });
        agents.set(host, agent);
        expect(readyLine).toMatch(/healthy/i);
      }
      const members = Object.values(await client.hgetall(`${prefix}:containers`)).map((raw) => containerRecordSchema.parse(JSON.parse(raw)));
      expect(members.map((m) => m.hostId).sort(), `members registered in Redis: ${JSON.stringify(members)}`).toEqual(['h1', 'h1', 'h2', 'h2']);
      for (const member of members) expect(member.address).toBe(network.addressOf(member.hostId!));

      // ---- two shards, each from its own namespace, sharing the pool ----
      const shards = SHARDS.map((shard, i) => {
        // Under the shard's TMPDIR: removed with the network, and by the next run's sweep after a crash.
        const out = join(network.tmpDirFor(shard), 'out');
        const child = startShard(network, shard, ['-c', SHARD_CONFIG, `--shard=${i + 1}/${SHARDS.length}`], {
          redisUrl: redis.url,
          poolId,
          env: { CINNAMON_POOL_RUN_GROUP: runGroup, [SHARD_OUTPUT_DIR_ENV]: out },
        });
        return { shard, out, child };
      });
      const exits = await Promise.all(shards.map((s) => s.child.exited));
      // Soft: a failed shard still leaves the store's records, and the checks below say whether the pool broke.
      shards.forEach((s, i) => {
        expect.soft(exits[i], `shard ${s.shard} failed:\n${s.child.stdout().slice(-6000)}\n${s.child.stderr().slice(-3000)}`).toEqual({ code: 0, signal: null });
      });

      // ---- each shard's analytics shows its allocations, on members of the shared pool ----
      const memberIds = new Set(members.map((m) => m.id));
      const reported = new Set<string>();
      for (const { shard, out } of shards) {
        const file = join(out, 'pool-report', 'pool-analytics.json');
        expect(existsSync(file), `${shard} wrote no ${file}`).toBe(true);
        const analytics = JSON.parse(readFileSync(file, 'utf8')) as SystemAnalytics;
        expect(analytics.allocations.length, `${shard}: no allocations in its analytics`).toBeGreaterThan(0);
        expect(analytics.runGroup, `${shard}'s analytics name the run group CINNAMON_POOL_RUN_GROUP gave it`).toBe(runGroup);
        for (const allocation of analytics.allocations) {
          expect(memberIds, `${shard} allocated ${allocation.containerId}, not a member of h1 or h2`).toContain(allocation.containerId);
          reported.add(allocation.leaseId);
        }
      }

      // ---- the store's truth: every lease ended, none overlapped another on its container ----
      const { spans, audit, triesQueued } = await readLeaseHistory(client, prefix);
      const allocated = audit.filter((e) => e.type === 'allocated');
      expect(allocated.length, 'no allocated events in the pool audit').toBeGreaterThan(0);
      const spanIds = new Set(spans.map((s) => s.leaseId));
      for (const event of allocated) expect(spanIds, `audit lease ${String(event.detail?.leaseId)} unknown to the store`).toContain(event.detail?.leaseId);
      for (const leaseId of reported) expect(spanIds).toContain(leaseId);
      expect(spans.filter((s) => s.endedAt === null), 'leases still active after both shards ended').toEqual([]);
      expect(overlappingLeases(spans)).toEqual([]);
      const perMember = Object.fromEntries(members.map((m) => [m.id, spans.filter((s) => s.containerId === m.id).length]));
      const reasons = Object.fromEntries(['released', 'expired', 'revoked'].map((r) => [r, spans.filter((s) => s.reason === r).length]));
      console.log(`shared pool ${poolId}: ${spans.length} leases ${JSON.stringify(perMember)}, ended ${JSON.stringify(reasons)}; ${allocated.length} allocated events; shard reports name ${reported.size} leases`);
      const hostsServed = new Set(spans.map((s) => members.find((m) => m.id === s.containerId)?.hostId));
      expect([...hostsServed].sort(), 'both hosts served leases').toEqual(['h1', 'h2']);

      // ---- priority order over the merged queue: no grant while a higher-priority try of either shard waited ----
      const order = checkPriorityOrder(spans, triesQueued);
      expect(order.unstamped, 'leases without their queue stamps (seq, queuedAt)').toEqual([]);
      // Every try queued got a lease: none was cancelled, so no waiting try is missing from the check.
      expect(order.untracked, `tries queued (seq 1..${triesQueued}) that no lease carries`).toEqual([]);
      expect(order.violations).toEqual([]);
      // The shard that asked: the coordinator run id in the lease's testRunId (`<test> @<runId>`), one per shard.
      const runOf = (testRunId: string) => /@(\S+?)(?:\/|$)/.exec(testRunId.slice(testRunId.lastIndexOf(' @') + 1))?.[1];
      expect(new Set(spans.map((s) => runOf(s.testRunId))).size, `coordinator runs in the leases' testRunIds: ${spans.map((s) => s.testRunId).join(', ')}`).toBe(SHARDS.length);
      const crossShard = order.overtakes.filter((o) => runOf(o.granted.testRunId) !== runOf(o.waiting.testRunId));
      const overtaken = new Set(order.overtakes.map((o) => o.waiting.leaseId));
      console.log(
        `priority order: ${spans.length} grants of ${triesQueued} tries, ${order.overtakes.length} grants over a lower-priority waiting try ` +
          `(${crossShard.length} across shards), ${overtaken.size} tries overtaken`,
      );
      // How much contention the run had is logged, not asserted: it depends on how the two shards' workers interleave
      // on a loaded machine (green runs counted 11-18 such grants, 5-8 across shards). That the check catches a
      // grant made over a higher-priority waiting try is shown by its unit test with a violating history
      // (lease-history.test.ts).

      // ---- the merged report (cinnamon-pool merge-reports) counts each of the pool's leases once ----
      const mergedDir = join(network.tmpDirFor(SHARDS[0]), 'merged');
      const merge = await runCommand(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), 'merge-reports', ...shards.map((s) => join(s.out, 'pool-report')), '--output', mergedDir]);
      expect(merge.code, `merge-reports:\n${merge.stdout}\n${merge.stderr}`).toBe(0);
      const merged = JSON.parse(readFileSync(join(mergedDir, 'pool-analytics.json'), 'utf8')) as SystemAnalytics;
      expect(merged.allocations.map((a) => a.leaseId).sort()).toEqual(spans.map((s) => s.leaseId).sort());
      expect(merged.runGroup, 'the merged report names the shards\' run group').toBe(runGroup);
      expect(merge.stdout).toContain(`run group ${runGroup}`);

      // ---- SIGTERM: agents drain, exit 0, leave the pool and their namespaces empty ----
      for (const agent of agents.values()) agent.child.kill('SIGTERM');
      for (const [host, agent] of agents) {
        const exit = await Promise.race([
          agent.exited,
          new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), DRAIN_BUDGET_MS).unref()),
        ]);
        expect(exit, `agent ${host} after SIGTERM:\n${agent.stdout().slice(-3000)}\n${agent.stderr().slice(-3000)}`).toEqual({ code: 0, signal: null });
      }
      expect(await client.hgetall(`${prefix}:containers`), 'members left in the pool after both agents drained').toEqual({});
      for (const host of [...HOSTS, ...SHARDS]) {
        expect(await eventuallyEmpty(network, host), `processes left in ${host}'s namespace`).toEqual([]);
      }
    } finally {
      client.disconnect();
    }
  });
});

/** The namespace's process list once it is empty, or the processes still there when the budget runs out. */
async function eventuallyEmpty(network: TestNetwork, host: string): Promise<string[]> {
  const deadline = performance.now() + NAMESPACE_EMPTY_BUDGET_MS;
  for (;;) {
    const pids = await network.pidsIn(host);
    if (pids.length === 0 || performance.now() > deadline) {
      return pids.map((pid) => {
        try {
          return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()}`;
        } catch {
          return `${pid} (gone)`;
        }
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
